"""The CMSIS-NN code generator: bindings (which kernel and arguments per op), render (strict Jinja2 templates
in cmsis_templates/), probe (CMSIS-NN's own scratch sizes) and project (the buildable firmware folder)."""
from .project import LayerInfo, ProjectInfo, generate_project, plan_graph, staged_folder

__all__ = ["LayerInfo", "ProjectInfo", "generate_project", "plan_graph", "staged_folder"]
