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
    LT_ARCH_QWEN3, /* per-head RMSNorm on Q and K, NeoX RoPE, head size from key_length */
    LT_ARCH_SMOLLM3, /* llama, with no RoPE in every 4th layer */
    LT_ARCH_PHI3,   /* fused QKV and gate/up matrices, NeoX RoPE, LongRoPE factors */
    LT_ARCH_GEMMA3, /* scaled embeddings, Q/K norms, norms after each block, GeGLU,
                       sliding-window layers with their own RoPE base */
} lt_arch;

typedef struct lt_hparams {
    lt_arch arch;
    char arch_name[32];   /* general.architecture, the prefix of the file's keys */
    int32_t n_layers;
    int32_t dim;          /* embedding width */
    int32_t n_heads;
    int32_t n_kv_heads;   /* grouped-query attention: n_heads % n_kv_heads == 0 */
    int32_t head_dim;
    int32_t n_rot;        /* the dimensions of each head RoPE turns (the first n_rot; phi4: 3/4) */
    int32_t ffn_dim;
    int32_t n_vocab;
    int64_t context_train; /* advice, not a limit */
    float rope_base;      /* global layers */
    float rope_base_local; /* sliding-window layers */
    float rope_scale;     /* linear RoPE scaling of global layers: positions divided by it */
    float rope_attn_factor; /* rope.scaling.attn_factor: cos and sin multiplied by it (LongRoPE) */
    float rms_eps;
    int rope_neox;
    float attn_scale;     /* what q·k is multiplied by before the softmax */
    float embd_scale;     /* what the token embeddings are multiplied by (gemma: sqrt(dim)) */
    float logit_softcap;  /* logits become c·tanh(logits / c); 0: off */
    int ffn_gelu;         /* GeGLU (GELU, tanh approximation) rather than SwiGLU */
    int32_t sliding_window; /* tokens a local layer sees, itself included; 0: none */
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
    const float *q_norm;    /* (head_dim), per-head RMSNorm of queries (qwen3, gemma3), else NULL */
    const float *k_norm;    /* (head_dim), of keys */
    const float *post_attn_norm; /* (dim), gemma3: the attention's output normed, else NULL */
    const float *ffn_norm;  /* (dim) */
    const float *post_ffw_norm;  /* (dim), gemma3: the FFN's output normed */
    int32_t window;         /* tokens this layer attends to, itself included; 0: all */
    int no_rope;            /* smollm3: every 4th layer's queries and keys are not rotated */
    float rope_base;        /* its RoPE base */
    const float *rope_freqs; /* (head_dim / 2) its frequency factors, or NULL */
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
    float *rope_linear;        /* (head_dim / 2) all rope_scale: linear scaling as factors */
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
