"""Where CMSIS-NN is, which version, and which API generation its headers declare: $CMSIS_NN_PATH, else the copy
`edgeq setup` fetched into the cache. The code generator (its calls, its host probe) and the build read CMSIS-NN
from here.

Two generations are in use: the one the setup fetches (upstream 3b4e406b, January 2024, arm_nnfunctions.h
V.12.5.1) and current upstream (V.19.1.0, what TFLite Micro builds on). Between them a few kernels changed their
arguments; `Api` reads each change from the headers themselves, so any checkout in between works too."""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import ToolchainError
from .resources import cache_dir


@dataclass(frozen=True)
class Api:
    """The kernel signatures that differ between CMSIS-NN generations, as the headers declare them."""
    revision: str            # arm_nnfunctions.h's $Revision, e.g. "V.12.5.1", "V.19.1.0"
    s16_bias_struct: bool    # 16x8 convolutions take their int64 bias as `const cmsis_nn_bias_data *`
    conv_upscale_dims: bool  # arm_convolve_s8 takes upscale dims (NULL for a plain convolution) before the output's
    folded_kernel_sums: bool  # Helium fully connected kernel sums hold bias + input offset x (row sum + K x filter
                              # offset) (arm_vector_sum_s8 takes the offsets and bias), not the row sums alone
    one_by_n_sized_by_params: bool  # arm_convolve_1_x_n_s8_get_buffer_size(conv params, input, filter, output)
    declared: frozenset[str]  # which of OPTIONAL_FUNCTIONS the headers declare
    helium_s4_depthwise: bool  # arm_depthwise_conv_s4_opt has a Helium path (its source tests ARM_MATH_MVEI)
    helium_s16_conv: bool    # arm_convolve_s16 has a Helium path (likewise)
    helium_s4_fc: bool       # arm_fully_connected_s4 has a Helium path (its product, arm_nn_vec_mat_mult_t_s4)
    mat_mult_row_offset: bool  # arm_nn_mat_mult_nt_t_s8 takes the output's row_address_offset (edgeq_conv_s8_mve)
    transpose_conv_sized_by_params: bool  # arm_transpose_conv_s8_get_buffer_size(params, input, filter, output), and
                                          # arm_transpose_conv_wrapper_s8 picks a reverse convolution where it can
    stateful_lstm: bool      # arm_lstm_unidirectional_s8 starts from and keeps a caller's hidden and cell states
                             # (cmsis_nn_lstm_context.hidden_state), as TFLite Micro's LSTM does

    def defines(self) -> tuple[str, ...]:
        """The flags as C macros (-DEDGEQ_S16_BIAS_STRUCT..., -DEDGEQ_HAS_ARM_CONVOLVE_EVEN_S4...), for C that
        compiles against either generation."""
        return tuple([f"-DEDGEQ_{f.name.upper()}" for f in fields(self) if getattr(self, f.name) is True]
                     + [f"-DEDGEQ_HAS_{name.upper()}" for name in sorted(self.declared)])


# functions one generation has and the other lacks, which a wrapper may call
OPTIONAL_FUNCTIONS = ("arm_convolve_fast_s16", "arm_convolve_1_x_n_s4", "arm_convolve_even_s4", "arm_transpose_s8",
                      "arm_pad_s8", "arm_maximum_s8", "arm_minimum_s8", "arm_lstm_unidirectional_s8",
                      "arm_batch_matmul_s8", "arm_batch_matmul_s16")


def _prototype(header: str, function: str) -> str:
    match = re.search(rf"\b{function}\s*\(([^;{{]*)\)\s*;", header)
    return " ".join(match.group(1).split()) if match else ""


@lru_cache(maxsize=None)
def read_api(root: Path) -> Api:
    """The Api of the CMSIS-NN checkout at root (Include/, Source/); read once per checkout, as its tree hash."""
    text = (root / "Include" / "arm_nnfunctions.h").read_text()
    header = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    support = re.sub(r"/\*.*?\*/", "", (root / "Include" / "arm_nnsupportfunctions.h").read_text(), flags=re.S)
    types = re.sub(r"/\*.*?\*/", "", (root / "Include" / "arm_nn_types.h").read_text(), flags=re.S)
    lstm_context = re.search(r"\{([^{}]*)\}\s*cmsis_nn_lstm_context\s*;", types)
    revision = re.search(r"\$Revision:\s*(V[\d.]+)", text)
    s4_depthwise = root / "Source" / "ConvolutionFunctions" / "arm_depthwise_conv_s4_opt.c"
    s16_conv = root / "Source" / "ConvolutionFunctions" / "arm_convolve_s16.c"
    s4_fc = root / "Source" / "NNSupportFunctions" / "arm_nn_vec_mat_mult_t_s4.c"
    return Api(revision=revision.group(1) if revision else "unknown",
               s16_bias_struct="cmsis_nn_bias_data" in _prototype(header, "arm_convolve_s16"),
               conv_upscale_dims="upscale_dims" in _prototype(header, "arm_convolve_s8"),
               folded_kernel_sums="lhs_offset" in _prototype(header, "arm_vector_sum_s8"),
               one_by_n_sized_by_params="conv_params" in _prototype(header, "arm_convolve_1_x_n_s8_get_buffer_size"),
               declared=frozenset(f for f in OPTIONAL_FUNCTIONS if _prototype(header, f)),
               helium_s4_depthwise=s4_depthwise.is_file() and "ARM_MATH_MVEI" in s4_depthwise.read_text(),
               helium_s16_conv=s16_conv.is_file() and "ARM_MATH_MVEI" in s16_conv.read_text(),
               helium_s4_fc=s4_fc.is_file() and "ARM_MATH_MVEI" in s4_fc.read_text(),
               mat_mult_row_offset="row_address_offset" in _prototype(support, "arm_nn_mat_mult_nt_t_s8"),
               transpose_conv_sized_by_params="transpose_conv_params" in _prototype(
                   header, "arm_transpose_conv_s8_get_buffer_size"),
               stateful_lstm=bool(_prototype(header, "arm_lstm_unidirectional_s8") and lstm_context
                                  and "hidden_state" in lstm_context.group(1)))


@dataclass(frozen=True)
class CmsisNN:
    path: Path
    tree_hash: str           # sha256 over Include/ and Source/: identifies a checkout without a version file
    version: str             # the cache's VERSION line (upstream commit), else "<header revision> (<path>)"
    api: Api


@lru_cache(maxsize=None)
def _tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for sub in ("Include", "Source") for p in (root / sub).rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def find_cmsis_nn() -> CmsisNN:
    path = Path(os.environ.get("CMSIS_NN_PATH") or cache_dir() / "cmsis-nn").resolve()
    if not (path / "Include" / "arm_nnfunctions.h").is_file() or not (path / "Source").is_dir():
        raise ToolchainError(f"CMSIS-NN not found at {path} (expected Include/arm_nnfunctions.h and Source/); "
                             f"run `edgeq setup` (or `make setup` in a checkout), or set CMSIS_NN_PATH")
    version_file = path / "VERSION"
    api = read_api(path)
    version = version_file.read_text().strip() if version_file.is_file() else f"{api.revision} ({path})"
    return CmsisNN(path, _tree_hash(path), version, api)


def sigmoid_table() -> np.ndarray:
    """CMSIS-NN's sigmoid_table_uint16 (sigmoid(i / 24) in 0.16 fixed point, uint16 [256]), in which TFLite Micro's
    int16 LOGISTIC and TANH interpolate too. It is no formula (44 entries lie one below the rounded sigmoid), so the
    reference reads it from the sources the firmware links."""
    return _sigmoid_table(find_cmsis_nn().path)


@lru_cache(maxsize=None)
def _sigmoid_table(root: Path) -> np.ndarray:
    text = (root / "Source" / "NNSupportFunctions" / "arm_nntables.c").read_text()
    match = re.search(r"sigmoid_table_uint16\s*\[\s*256\s*\]\s*=\s*\{([^}]*)\}", text)
    values = [int(v) for v in match.group(1).split(",") if v.strip()] if match else []
    if len(values) != 256:
        raise ToolchainError(f"{root}: Source/NNSupportFunctions/arm_nntables.c has no 256-entry "
                             "sigmoid_table_uint16; point CMSIS_NN_PATH at a complete CMSIS-NN checkout")
    table = np.array(values, dtype=np.uint16)
    table.flags.writeable = False
    return table
