"""Reference vectors for moa-serve's MoA encoder, from lucidrains' PyTorch modules.

An encoder is token embedding + learned positions -> depth x (MixtureOfAttention self-attention,
then the MoA Transformer's FeedForward, each pre-norm with a residual) -> a final RMSNorm: the
blocks of `mixture_of_attention.transformer.Transformer`, with the non-autoregressive module.
Writes, per case, into OUT/<case>/:
  config.json          "model_type": "moa_encoder" and the hyper-parameters
  model.safetensors    the state_dict, names as PyTorch gives them
  vectors.safetensors  tokens [B,N] i64, mask [B,N] i64 (1 = real token), hidden.<l> [B,N,D]
                       (residual stream after layer l), output [B,N,D] (after the final norm)
and OUT/cross/: one MixtureOfAttention cross-attending to a context of another width
(dim_context), its state_dict, and x, mask, context, context_mask, out.

The reference's defects are corrected by patches (the same as for the autoregressive module,
plus one of this module's own), so the output is a function of each sequence alone:
  1. the router gathers routed tokens from batch row b // experts (sequences read each other);
  2. the grouped to_kv output is split across expert boundaries (keys and values of different experts);
  3. the routed set follows torch.topk's order among tied coordinate-descent scores;
  4. when a sequence has no more tokens than num_routed_queries, the module takes another branch
     that drops the local-attention output and averages the experts instead of summing them.
Canonical: per sequence and expert, the top-k tokens by routing logit (ties: lower position),
padding last; "all tokens" when there are fewer; experts summed, local attention added.
The local branch is always given a padding mask (all true when nothing is padded): without one,
LocalAttention's autopad zeros take part in the softmax of the last window.
`--as-is` also reports the published modules' output on the same batch (the difference).

Needs Debian's python3-torch, and PYTHONPATH holding the reference sources (mixture_of_attention,
colt5_attention, local_attention, einops).
"""
import json, os, struct, sys
import torch
import torch.nn.functional as F
from torch import nn

import mixture_of_attention.attend as attend_mod
_orig_attend_init = attend_mod.Attend.__init__
def _no_flash(self, dropout=0., causal=False, flash=False):
    _orig_attend_init(self, dropout=dropout, causal=causal, flash=False)
attend_mod.Attend.__init__ = _no_flash

import mixture_of_attention.mixture_of_attention as moa_mod           # noqa: E402
from mixture_of_attention.mixture_of_attention import MixtureOfAttention  # noqa: E402
from mixture_of_attention.transformer import FeedForward, RMSNorm       # noqa: E402
from mixture_of_attention.rotary_emb import RotaryEmbedding             # noqa: E402
from colt5_attention import CoordinateDescentRouter                     # noqa: E402
from colt5_attention.transformer_block import RouterReturn              # noqa: E402

CANONICAL = True  # the patches below apply only while this is true

_orig_route = CoordinateDescentRouter.forward
def _route(self, x, *, num_tokens, mask=None, random_route=False, routing_tokens=None, keep_one_route_dim=False):
    if not CANONICAL:
        return _orig_route(self, x, num_tokens=num_tokens, mask=mask, random_route=random_route,
                           routing_tokens=routing_tokens, keep_one_route_dim=keep_one_route_dim)
    rt = self.routing_token
    if self.cosine_sim_routing:
        s = torch.einsum('b n d, r d -> b r n', F.normalize(x, dim=-1), F.normalize(rt, dim=-1)) * self.cosine_sim_scale
    else:
        s = torch.einsum('b n d, r d -> b r n', x, rt)
    if mask is not None:
        s = s.masked_fill(~mask[:, None, :], float('-inf'))
    idx = torch.sort(s, dim=-1, descending=True, stable=True).indices[..., :num_tokens]   # (b, r, k)
    rows = torch.arange(x.shape[0])[:, None, None]
    sel_mask = mask[rows, idx] if mask is not None else None
    scores = torch.ones(idx.shape, dtype=x.dtype)
    if sel_mask is not None:
        scores = scores.masked_fill(~sel_mask, 0.)
    return RouterReturn(idx, scores, x[rows, idx], sel_mask)
CoordinateDescentRouter.forward = _route

class _KeysThenValues(nn.Module):
    """to_kv per expert is [k; v]; lay it out as [k of all experts; v of all experts]."""
    def __init__(self, conv, groups):
        super().__init__()
        self.conv, self.groups = conv, groups

    def forward(self, t):
        out = self.conv(t)
        b, c, n = out.shape
        out = out.view(b, self.groups, 2, c // (2 * self.groups), n)
        return torch.cat((out[:, :, 0].reshape(b, -1, n), out[:, :, 1].reshape(b, -1, n)), dim=1)

_orig_attn_fwd = moa_mod.Attention.forward
def _attn_fwd(self, *args, **kwargs):
    if not CANONICAL:
        return _orig_attn_fwd(self, *args, **kwargs)
    real = self._modules['to_kv']
    self._modules['to_kv'] = _KeysThenValues(real, self.groups)
    try:
        return _orig_attn_fwd(self, *args, **kwargs)
    finally:
        self._modules['to_kv'] = real
moa_mod.Attention.forward = _attn_fwd


class MoaEncoder(nn.Module):
    def __init__(self, *, num_tokens, dim, depth, seq_len, num_routed_queries, num_routed_key_values,
                 num_experts, local_attn, local_attn_window_size, dim_head, heads, ff_mult, cosine_sim_routing):
        super().__init__()
        self.token_emb = nn.Embedding(num_tokens, dim)
        self.pos_emb = nn.Embedding(seq_len, dim)
        self.rotary_emb = RotaryEmbedding(dim_head)
        self.layers = nn.ModuleList([nn.ModuleList([
            MixtureOfAttention(dim, num_routed_queries=num_routed_queries, num_routed_key_values=num_routed_key_values,
                               local_attn=local_attn, local_attn_window_size=local_attn_window_size,
                               num_experts=num_experts, dim_head=dim_head, heads=heads, use_triton=False,
                               flash_attn=False, prenorm=True, cosine_sim_routing=cosine_sim_routing),
            FeedForward(dim, mult=ff_mult)]) for _ in range(depth)])
        self.norm = RMSNorm(dim)

    def forward(self, tokens, mask, hidden=None):
        n = tokens.shape[1]
        x = self.token_emb(tokens) + self.pos_emb(torch.arange(n))
        rot = self.rotary_emb(n)
        for attn, ff in self.layers:
            x = attn(x, mask=mask, rotary_emb=rot) + x
            x = ff(x) + x
            if hidden is not None:
                hidden.append(x)
        return self.norm(x)


DTYPES = {torch.float32: "F32", torch.int64: "I64"}

def save_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        raw = t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)

def perturb_gammas(model):
    # random init leaves RMSNorm gammas at 1 and LayerNorm at (1, 0): perturb them so names and shapes matter
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gamma") or ".norm." in name:
                p.add_(0.1 * torch.randn_like(p))

def lengths_mask(lengths, n):
    return torch.arange(n)[None, :] < torch.tensor(lengths)[:, None]

def make_encoder_case(out_dir, seed, cfg, lengths):
    global CANONICAL
    torch.manual_seed(seed)
    model = MoaEncoder(**cfg).eval()
    perturb_gammas(model)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(dict(model_type="moa_encoder", **cfg), f, indent=2)
    save_safetensors(os.path.join(out_dir, "model.safetensors"), dict(model.state_dict()))
    n = max(lengths)
    g = torch.Generator().manual_seed(seed + 1)
    tokens = torch.randint(0, cfg["num_tokens"], (len(lengths), n), generator=g)
    mask = lengths_mask(lengths, n)
    tokens = tokens.masked_fill(~mask, 0)
    with torch.no_grad():
        hidden = []
        out = model(tokens, mask, hidden)
        # batch independence: each sequence alone, unpadded
        alone = max(float((model(tokens[b:b + 1, :L], torch.ones(1, L, dtype=torch.bool))[0] - out[b, :L]).abs().max())
                    for b, L in enumerate(lengths))
        CANONICAL = False
        try:
            as_is = model(tokens, mask)
            as_is_diff = float(((as_is - out) * mask[..., None]).abs().max())
        except Exception as e:  # the published module may fail outright on some shapes
            as_is_diff = f"fails: {type(e).__name__}"
        finally:
            CANONICAL = True
    vec = {"tokens": tokens, "mask": mask.long(), "output": out}
    vec.update({f"hidden.{l}": h for l, h in enumerate(hidden)})
    save_safetensors(os.path.join(out_dir, "vectors.safetensors"), vec)
    print(f"{out_dir}: params={sum(p.numel() for p in model.parameters())} lengths={lengths} "
          f"max|batched - alone|={alone:.3g} max|as published - canonical|={as_is_diff if isinstance(as_is_diff, str) else format(as_is_diff, '.3g')}")

def make_cross_case(out_dir, seed, cfg, lengths, context_lengths):
    torch.manual_seed(seed)
    module = MixtureOfAttention(cfg["dim"], dim_context=cfg["dim_context"], num_routed_queries=cfg["num_routed_queries"],
                                num_routed_key_values=cfg["num_routed_key_values"], num_experts=cfg["num_experts"],
                                dim_head=cfg["dim_head"], heads=cfg["heads"], use_triton=False, flash_attn=False,
                                prenorm=True, cosine_sim_routing=cfg["cosine_sim_routing"]).eval()
    perturb_gammas(module)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    save_safetensors(os.path.join(out_dir, "model.safetensors"), dict(module.state_dict()))
    g = torch.Generator().manual_seed(seed + 1)
    n, m = max(lengths), max(context_lengths)
    x = torch.randn(len(lengths), n, cfg["dim"], generator=g)
    context = torch.randn(len(lengths), m, cfg["dim_context"], generator=g)
    mask, context_mask = lengths_mask(lengths, n), lengths_mask(context_lengths, m)
    with torch.no_grad():
        out = module(x, context=context, mask=mask, context_mask=context_mask)
    save_safetensors(os.path.join(out_dir, "vectors.safetensors"), {
        "x": x, "mask": mask.long(), "context": context, "context_mask": context_mask.long(), "out": out})
    print(f"{out_dir}: cross-attention, lengths={lengths} context_lengths={context_lengths}")

CASES = {
    # local attention beside 2 routed experts; padded batch; a sequence shorter than k_q (all routed)
    "local": dict(seed=3, lengths=[40, 29, 12], cfg=dict(
        num_tokens=40, dim=32, depth=2, seq_len=64, num_routed_queries=16, num_routed_key_values=12,
        num_experts=2, local_attn=True, local_attn_window_size=8, dim_head=8, heads=4, ff_mult=2,
        cosine_sim_routing=True)),
    # routed only (unrouted positions take the null token), 3 experts, dot-product routing
    "routed": dict(seed=5, lengths=[33, 50], cfg=dict(
        num_tokens=30, dim=24, depth=2, seq_len=64, num_routed_queries=10, num_routed_key_values=20,
        num_experts=3, local_attn=False, local_attn_window_size=None, dim_head=8, heads=3, ff_mult=2,
        cosine_sim_routing=False)),
}

if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    for name, c in CASES.items():
        make_encoder_case(os.path.join(out, name), c["seed"], c["cfg"], c["lengths"])
    make_cross_case(os.path.join(out, "cross"), 9, dict(dim=24, dim_context=16, num_routed_queries=6,
                    num_routed_key_values=9, num_experts=2, dim_head=8, heads=2, cosine_sim_routing=True),
                    lengths=[20, 14], context_lengths=[25, 11])
