"""Stand-in for "a model you trained in PyTorch": a small character-level MoA Transformer trained
with lucidrains' mixture-of-attention modules as published, saved as a plain PyTorch checkpoint
(constructor arguments + state_dict + the characters of its vocabulary).

    python3 train_reference.py --text input.txt --steps 300 --out checkpoint.pt

Needs torch and the reference sources (mixture_of_attention, colt5_attention, local_attention,
einops) on PYTHONPATH. Any training of your own does the same job: what export_moa.py needs is
the constructor arguments, the state_dict and the tokenizer.
"""
import argparse
import torch
import mixture_of_attention.attend as attend

if int(torch.__version__.split(".")[0]) < 2:  # flash attention needs torch 2: use the plain path
    _init = attend.Attend.__init__
    attend.Attend.__init__ = lambda self, dropout=0., causal=False, flash=False: _init(self, dropout, causal, False)

from mixture_of_attention.transformer import Transformer
from mixture_of_attention.autoregressive_wrapper import AutoregressiveWrapper

p = argparse.ArgumentParser()
p.add_argument("--text", required=True)
p.add_argument("--out", required=True)
p.add_argument("--steps", type=int, default=300)
args = p.parse_args()

text = open(args.text, encoding="utf-8").read()
chars = "".join(sorted(set(text)))
data = torch.tensor([chars.index(c) for c in text], dtype=torch.long)
config = dict(num_tokens=len(chars), dim=64, depth=2, seq_len=128, local_attn_window_size=16,
              routed_window_size=16, num_routed_queries=8, num_routed_key_values=16, num_experts=2,
              dim_head=16, heads=4, ff_mult=4, cosine_sim_routing=True)

torch.manual_seed(0)
model = AutoregressiveWrapper(Transformer(use_triton=False, **config))
opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
for step in range(1, args.steps + 1):
    starts = torch.randint(0, len(data) - config["seq_len"] - 1, (16,))
    batch = torch.stack([data[s:s + config["seq_len"] + 1] for s in starts.tolist()])
    loss = model(batch)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 50 == 0 or step == args.steps:
        print(f"step {step} loss {loss.item():.3f}", flush=True)

torch.save({"config": config, "state_dict": model.net.state_dict(), "chars": chars}, args.out)
print(f"saved {args.out}")
