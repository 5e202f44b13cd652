/*
 * Host stand-ins for the Helium types and intrinsics that arm_nnsupportfunctions.h's inline helpers mention, so
 * the probe (probe.c) can compile CMSIS-NN's wrappers and size functions on the host with ARM_MATH_MVEI defined.
 * Declarations only: no helper that uses them is ever called, so none is ever emitted or linked.
 */
#include <stdint.h>
typedef int32_t int32x4_t __attribute__((vector_size(16)));
typedef uint16_t mve_pred16_t;
int32x4_t vdupq_n_s32(int32_t a);
int32x4_t vshlq_s32(int32x4_t a, int32x4_t b);
int32x4_t vrshlq_s32(int32x4_t a, int32x4_t b);
int32x4_t vshrq_n_s32(int32x4_t a, int n);
int32x4_t vqaddq_s32(int32x4_t a, int32x4_t b);
int32x4_t vqsubq_s32(int32x4_t a, int32x4_t b);
int32x4_t vpselq_s32(int32x4_t a, int32x4_t b, mve_pred16_t p);
int32x4_t vandq_s32(int32x4_t a, int32x4_t b);
int32x4_t vqrdmulhq_s32(int32x4_t a, int32x4_t b);
int32x4_t vqrdmulhq_n_s32(int32x4_t a, int32_t b);
int32x4_t vqdmulhq_s32(int32x4_t a, int32x4_t b);
int32x4_t vqdmulhq_n_s32(int32x4_t a, int32_t b);
int32x4_t vminq_s32(int32x4_t a, int32x4_t b);
mve_pred16_t vcmpgtq_n_s32(int32x4_t a, int32_t b);
/* predicated forms, used by current CMSIS-NN (V.19) */
int32x4_t vcreateq_s32(uint64_t a, uint64_t b);
int32x4_t vdupq_x_n_s32(int32_t a, mve_pred16_t p);
int32x4_t vandq_x_s32(int32x4_t a, int32x4_t b, mve_pred16_t p);
int32x4_t vshrq_x_n_s32(int32x4_t a, int n, mve_pred16_t p);
int32x4_t vqaddq_m_s32(int32x4_t inactive, int32x4_t a, int32x4_t b, mve_pred16_t p);
int32x4_t vrshlq_m_s32(int32x4_t inactive, int32x4_t a, int32x4_t b, mve_pred16_t p);
int32x4_t vshlq_m_s32(int32x4_t inactive, int32x4_t a, int32x4_t b, mve_pred16_t p);
int32x4_t vqrdmulhq_m_n_s32(int32x4_t inactive, int32x4_t a, int32_t b, mve_pred16_t p);
