/*
 * model.h — a loaded model as the rest of src/ sees it: hyperparameters and the weights
 * bound per layer, each pointing into the mapped file.
 */
#ifndef LT_MODEL_H
#define LT_MODEL_H

#include "internal.h"
#include "kernels.h"

struct lt_vocab;

typedef enum lt_arch {
    LT_ARCH_LLAMA, /* Llama 2/3, TinyLlama, SmolLM, Mistral: interleaved RoPE */
    LT_ARCH_QWEN2, /* biases on Q/K/V, NeoX RoPE */
} lt_arch;

typedef struct lt_hparams {
    lt_arch arch;
    int32_t n_layers;
    int32_t dim;          /* embedding width */
    int32_t n_heads;
    int32_t n_kv_heads;   /* grouped-query attention: n_heads % n_kv_heads == 0 */
    int32_t head_dim;
    int32_t ffn_dim;
    int32_t n_vocab;
    int64_t context_train; /* advice, not a limit */
    float rope_base;
    float rms_eps;
    int rope_neox;
} lt_hparams;

typedef struct lt_layer {
    const float *attn_norm; /* (dim) */
    lk_matrix wq;           /* (n_heads * head_dim) × dim */
    lk_matrix wk;           /* (n_kv_heads * head_dim) × dim */
    lk_matrix wv;           /* (n_kv_heads * head_dim) × dim */
    lk_matrix wo;           /* dim × (n_heads * head_dim) */
    const float *bq;        /* (n_heads * head_dim), qwen2 only, else NULL */
    const float *bk;        /* (n_kv_heads * head_dim) */
    const float *bv;        /* (n_kv_heads * head_dim) */
    const float *ffn_norm;  /* (dim) */
    lk_matrix w_gate;       /* ffn_dim × dim */
    lk_matrix w_up;         /* ffn_dim × dim */
    lk_matrix w_down;       /* dim × ffn_dim */
} lt_layer;

struct latent_model {
    latent_gguf *gguf;
    struct lt_vocab *vocab;
    lt_budget budget;          /* what the model holds on the heap */
    lt_hparams hp;
    lk_matrix token_embd;      /* n_vocab × dim */
    const float *output_norm;  /* (dim) */
    lk_matrix output;          /* n_vocab × dim (token_embd when tied) */
    const float *rope_freqs;   /* (head_dim / 2) llama3 frequency factors, or NULL */
    lt_layer *layers;          /* n_layers */
    size_t weight_bytes;       /* tensor bytes bound */
    float **converted;         /* 1-D tensors stored as f16/bf16, converted to f32 */
    int32_t n_converted;
};

/* Builds a model on a parsed view, taking ownership of it (freed on failure too). The
 * loader's core, apart from files: the fuzz target calls it on bytes in memory. */
latent_status lt_model_from_view(latent_gguf *gguf, int vocab_only, latent_model **out);

/* The tokenizer built from the model's metadata (never NULL for a loaded model). */
const struct lt_vocab *lt_model_vocab(const latent_model *model);

#endif /* LT_MODEL_H */
