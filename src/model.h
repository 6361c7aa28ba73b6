/*
 * model.h — what the rest of src/ may know of a loaded model.
 */
#ifndef LT_MODEL_H
#define LT_MODEL_H

#include "internal.h"

struct lt_vocab;

/* The tokenizer built from the model's metadata (never NULL for a loaded model). */
const struct lt_vocab *lt_model_vocab(const latent_model *model);

#endif /* LT_MODEL_H */
