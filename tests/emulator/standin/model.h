/* Stand-in for generated model code (tests only), honouring the code generator's model.h contract. */
#ifndef MODEL_H
#define MODEL_H

#define EDGEQ_INPUT_BYTES 3072
#define EDGEQ_OUTPUT_BYTES 3072
#define EDGEQ_NUM_LAYERS 3
#define EDGEQ_ARENA_BYTES 3072

int edgeq_model_invoke(const void *input, void *output);

#endif
