"""Turn a PyTorch MoA checkpoint into a moa-serve model directory:

    python3 export_moa.py checkpoint.pt model/

writes model/config.json (the Transformer's constructor arguments + the router's settings),
model/model.safetensors (the state_dict, names unchanged), model/vocab.json (the character
tokenizer) and model/vectors.safetensors (outputs of the PyTorch modules on this checkpoint, for
`moa-serve verify model model/vectors.safetensors`).

The vectors are computed with the canonical-MoA patches of the reference kit applied
(make_reference.py on PYTHONPATH: importing it applies them). moa-serve implements canonical MoA;
the published modules differ from it in three places (docs/bring-your-own-model.md).
"""
import json, os, sys
import torch
import make_reference  # applies canonical_fixes() on import; has save_safetensors and the router type
from mixture_of_attention.transformer import Transformer

ckpt_path, out = sys.argv[1], sys.argv[2]
ckpt = torch.load(ckpt_path)
config, state_dict, chars = ckpt["config"], ckpt["state_dict"], ckpt["chars"]
os.makedirs(out, exist_ok=True)

# --- the few lines any exporter needs: weights, config, tokenizer ---
model = Transformer(use_triton=False, **config).eval()
model.load_state_dict(state_dict)
router = next(m for m in model.modules() if isinstance(m, make_reference.CoordinateDescentRouter))
config = dict(config, fetch_k_ratio=router.fetch_k_ratio, router_n_iters=router.n_iters, router_eps=router.eps,
              router_eps_init=router.eps_init, router_eps_decay=router.eps_decay,
              cosine_sim_scale=router.cosine_sim_scale)
with open(os.path.join(out, "config.json"), "w") as f:
    json.dump(config, f, indent=2)
make_reference.save_safetensors(os.path.join(out, "model.safetensors"), dict(model.state_dict()))
with open(os.path.join(out, "vocab.json"), "w", encoding="utf-8") as f:
    json.dump({"type": "char", "chars": chars}, f, ensure_ascii=False)

# --- reference outputs for `verify`: full forward, residual stream per layer, greedy continuation ---
prompt_text = "ROMEO:\n"
prompt = torch.tensor([chars.index(c) for c in prompt_text if c in chars], dtype=torch.long)
g = torch.Generator().manual_seed(1)
tokens = torch.randint(0, config["num_tokens"], (2, config["seq_len"]), generator=g)
vectors = {"tokens": tokens}
with torch.no_grad():
    n = tokens.shape[1]
    x = model.token_emb(tokens) + model.pos_emb(torch.arange(n))
    rot = model.rotary_emb(n) if model.rotary_emb is not None else None
    for l, (attn, ff) in enumerate(model.layers):
        x = attn(x, rotary_emb=rot) + x
        x = ff(x) + x
        vectors[f"hidden.{l}"] = x.clone()
    vectors["logits"] = model.to_logits(x)
    seq, greedy, greedy_logits = prompt.clone(), [], []
    for _ in range(60):
        last = model(seq[None, -config["seq_len"]:])[0, -1]
        greedy.append(int(last.argmax()))
        greedy_logits.append(last)
        seq = torch.cat([seq, torch.tensor([greedy[-1]])])
vectors.update(prompt=prompt, greedy=torch.tensor(greedy, dtype=torch.long), greedy_logits=torch.stack(greedy_logits))
make_reference.save_safetensors(os.path.join(out, "vectors.safetensors"), vectors)
print(f"wrote {out}: config.json, model.safetensors, vocab.json, vectors.safetensors; "
      f"greedy after {prompt_text!r}: {''.join(chars[i] for i in greedy)!r}")
