class EncoderForward(Module):
  # The forward of a MoA encoder (the seeds' non-autoregressive MixtureOfAttention layers) over a
  # right-padded batch, as one TorchScript call: what embeddings run for an encoder. This file is
  # TorchScript source; ScriptedEncoder writes it into an archive with the model's sizes and the
  # weight list's slots (w_*: ScriptedEncoder.Slot) as attributes. The definition it computes is
  # EncoderForward (Java): per sequence and expert, the top-k_q of its real tokens route queries
  # and the top-k_kv route keys/values (stable sorts: ties to the lower position); expert
  # outputs are summed at their positions, plus the non-causal local branch (queries rotated W
  # positions later than keys, the reference's quirk) or, without one, the null token where no
  # expert routed; padded positions take part in nothing.
  #
  # Letters: B rows, N positions, D dim, H heads, dh dim_head, I = H*dh, G experts, W local window.
  __parameters__ = []
  __buffers__ = []
  training : bool
  depth : int
  dim : int
  heads : int
  dim_head : int
  inner : int
  experts : int
  local_window : int
  routed_queries : int
  routed_kv : int
  local : bool
  cosine_routing : bool
  routing_scale : float
  neg : float
  attention_scale : float
  root_dim : float
  w_token_emb : int
  w_pos_emb : int
  w_cos : int
  w_sin : int
  w_final_gamma : int
  w_first_layer : int
  w_per_layer : int
  w_local_ln_weight : int
  w_local_ln_bias : int
  w_local_qkv : int
  w_local_out : int
  w_query_tokens : int
  w_kv_tokens : int
  w_query_gamma : int
  w_context_gamma : int
  w_to_q : int
  w_to_kv : int
  w_to_out : int
  w_null_k : int
  w_null_v : int
  w_null_routed : int
  w_ff_gamma : int
  w_ff1 : int
  w_ff1_bias : int
  w_ff2 : int
  w_ff2_bias : int

  def hidden(self: __torch__.EncoderForward, wts: List[Tensor], ids: Tensor, lengths: Tensor) -> Tensor:
    # ids [B, N] int64, lengths [B] int64 -> the final normed hidden states [B, N, D]
    B = ids.size(0)
    N = ids.size(1)
    D = self.dim
    pos = torch.arange(N, dtype=ids.dtype, device=ids.device)
    x = torch.add(torch.index_select(wts[self.w_token_emb], 0, ids.reshape(-1)).view(B, N, D), wts[self.w_pos_emb][0:N])
    real = torch.lt(pos.view(1, N), lengths.view(B, 1))                        # [B, N]
    for l in range(self.depth):
      lw = self.w_first_layer + self.w_per_layer * l
      x = torch.add(x, self.mixture(wts, lw, x, real, lengths))
      x = torch.add(x, self.feed_forward(wts, lw, x))
    return self.rms(x, wts[self.w_final_gamma])

  def mixture(self: __torch__.EncoderForward, wts: List[Tensor], lw: int, x: Tensor, real: Tensor, lengths: Tensor) -> Tensor:
    # one MixtureOfAttention: x [B, N, D] -> [B, N, D], zero at padded positions
    B = x.size(0)
    N = x.size(1)
    D = self.dim
    H = self.heads
    dh = self.dim_head
    I = self.inner
    G = self.experts
    kq = min(self.routed_queries, N)
    kkv = min(self.routed_kv, N)
    pad = torch.logical_not(real).unsqueeze(2)                                # [B, N, 1]
    sq = torch.masked_fill(self.route(x, wts[lw + self.w_query_tokens]), pad, self.neg)   # [B, N, G]
    skv = torch.masked_fill(self.route(x, wts[lw + self.w_kv_tokens]), pad, self.neg)
    oq = torch.sort(sq.transpose(1, 2), dim=-1, descending=True, stable=True)[1][:, :, 0:kq]   # [B, G, kq]
    okv = torch.sort(skv.transpose(1, 2), dim=-1, descending=True, stable=True)[1][:, :, 0:kkv]
    rg = real.unsqueeze(1).expand(B, G, N)
    used_q = torch.gather(rg, 2, oq)                                           # [B, G, kq]: a real token
    used_kv = torch.gather(rg, 2, okv)
    xg = x.unsqueeze(1).expand(B, G, N, D)
    hq = torch.gather(xg, 2, oq.unsqueeze(3).expand(B, G, kq, D))             # [B, G, kq, D]
    hk = torch.gather(xg, 2, okv.unsqueeze(3).expand(B, G, kkv, D))
    cos = wts[self.w_cos]
    sin = wts[self.w_sin]
    kv = torch.matmul(self.rms(hk, wts[lw + self.w_context_gamma]), wts[lw + self.w_to_kv])   # [B, G, kkv, 2I]
    k = kv[:, :, :, 0:I].reshape(B, G, kkv, H, dh).transpose(2, 3)           # [B, G, H, kkv, dh]
    v = kv[:, :, :, I:2 * I].reshape(B, G, kkv, H, dh).transpose(2, 3)
    k = self.rotary(k, torch.index_select(cos, 0, okv.reshape(-1)).view(B, G, 1, kkv, dh),
        torch.index_select(sin, 0, okv.reshape(-1)).view(B, G, 1, kkv, dh))
    q = torch.matmul(self.rms(hq, wts[lw + self.w_query_gamma]), wts[lw + self.w_to_q])       # [B, G, kq, I]
    q = q.reshape(B, G, kq, H, dh).transpose(2, 3)                            # [B, G, H, kq, dh]
    q = self.rotary(q, torch.index_select(cos, 0, oq.reshape(-1)).view(B, G, 1, kq, dh),
        torch.index_select(sin, 0, oq.reshape(-1)).view(B, G, 1, kq, dh))
    k = torch.cat([wts[lw + self.w_null_k].unsqueeze(0).expand(B, G, H, 1, dh), k], 3)   # null key first
    v = torch.cat([wts[lw + self.w_null_v].unsqueeze(0).expand(B, G, H, 1, dh), v], 3)
    bias = torch.cat([torch.zeros([B, G, 1], device=x.device), torch.mul(torch.logical_not(used_kv).float(), self.neg)], 2)
    att = torch.scaled_dot_product_attention(q.reshape(B * G, H, kq, dh), k.reshape(B * G, H, kkv + 1, dh),
        v.reshape(B * G, H, kkv + 1, dh), bias.view(B * G, 1, 1, kkv + 1), 0.0, False, scale=self.attention_scale)
    o = att.view(B, G, H, kq, dh).transpose(2, 3).reshape(B, G, kq, I)
    out = torch.mul(torch.matmul(o, wts[lw + self.w_to_out]), used_q.unsqueeze(3).float())  # [B, G, kq, D]
    at = oq.reshape(B, G * kq)
    routed = torch.zeros([B, N, D], device=x.device).scatter_add_(1, at.unsqueeze(2).expand(B, G * kq, D), out.reshape(B, G * kq, D))
    if self.local:
      routed = torch.add(routed, self.local_attention(wts, lw, x, lengths))
    else:
      count = torch.zeros([B, N], device=x.device).scatter_add_(1, at, used_q.reshape(B, G * kq).float())
      routed = torch.add(routed, torch.mul(torch.eq(count, 0.0).float().unsqueeze(2), wts[lw + self.w_null_routed]))
    return torch.mul(routed, real.float().unsqueeze(2))

  def local_attention(self: __torch__.EncoderForward, wts: List[Tensor], lw: int, x: Tensor, lengths: Tensor) -> Tensor:
    # non-causal local attention: query t over the real keys s with |t - s| <= W, in blocks of W
    # with one block each side; queries rotated at t + W, keys at s. x [B, N, D] -> [B, N, D]
    B = x.size(0)
    N = x.size(1)
    H = self.heads
    dh = self.dim_head
    I = self.inner
    W = self.local_window
    nb = (N + W - 1) // W
    Np = nb * W
    ln = torch.layer_norm(x, [self.dim], wts[lw + self.w_local_ln_weight], wts[lw + self.w_local_ln_bias], 1e-5)
    qkv = torch.constant_pad_nd(torch.matmul(ln, wts[lw + self.w_local_qkv]), [0, 0, 0, Np - N], 0.0)   # [B, Np, 3I]
    cos = wts[self.w_cos]
    sin = wts[self.w_sin]
    q = self.rotary(qkv[:, :, 0:I].reshape(B, nb, W, H, dh), cos[W:W + Np].view(1, nb, W, 1, dh), sin[W:W + Np].view(1, nb, W, 1, dh))
    k = self.rotary(qkv[:, :, I:2 * I].reshape(B, nb, W, H, dh), cos[0:Np].view(1, nb, W, 1, dh), sin[0:Np].view(1, nb, W, 1, dh))
    v = qkv[:, :, 2 * I:3 * I].reshape(B, nb, W, H, dh)
    k = self.look_around(k)                                                   # [B, nb, 3W, H, dh]
    v = self.look_around(v)
    t = torch.arange(Np, device=x.device).view(nb, W, 1)
    s = torch.sub(torch.add(torch.arange(3 * W, device=x.device).view(1, 1, 3 * W),
        torch.mul(torch.arange(nb, device=x.device), W).view(nb, 1, 1)), W)  # [nb, 1, 3W] key positions
    near = torch.le(torch.abs(torch.sub(t, s)), W)                            # [nb, W, 3W]
    seen = torch.logical_and(torch.ge(s, 0).unsqueeze(0), torch.lt(s.unsqueeze(0), lengths.view(B, 1, 1, 1)))   # [B, nb, 1, 3W]
    bias = torch.mul(torch.logical_not(torch.logical_and(near.unsqueeze(0), seen)).float(), self.neg)   # [B, nb, W, 3W]
    att = torch.scaled_dot_product_attention(q.reshape(B * nb, W, H, dh).transpose(1, 2),
        k.reshape(B * nb, 3 * W, H, dh).transpose(1, 2), v.reshape(B * nb, 3 * W, H, dh).transpose(1, 2),
        bias.reshape(B * nb, 1, W, 3 * W), 0.0, False, scale=self.attention_scale)   # [B*nb, H, W, dh]
    out = att.transpose(1, 2).reshape(B, Np, I)[:, 0:N]
    return torch.matmul(out, wts[lw + self.w_local_out])

  def look_around(self: __torch__.EncoderForward, x: Tensor) -> Tensor:
    # blocks b-1, b, b+1 of x [B, nb, W, H, dh] (zeros beyond the ends) -> [B, nb, 3W, H, dh]
    nb = x.size(1)
    prev = torch.constant_pad_nd(x[:, 0:nb - 1], [0, 0, 0, 0, 0, 0, 1, 0], 0.0)
    after = torch.constant_pad_nd(x[:, 1:nb], [0, 0, 0, 0, 0, 0, 0, 1], 0.0)
    return torch.cat([prev, x, after], 2)

  def feed_forward(self: __torch__.EncoderForward, wts: List[Tensor], lw: int, x: Tensor) -> Tensor:
    h = torch.add(torch.matmul(self.rms(x, wts[lw + self.w_ff_gamma]), wts[lw + self.w_ff1]), wts[lw + self.w_ff1_bias])
    return torch.add(torch.matmul(torch.gelu(h), wts[lw + self.w_ff2]), wts[lw + self.w_ff2_bias])

  def route(self: __torch__.EncoderForward, x: Tensor, tokens: Tensor) -> Tensor:
    # routing logits of rows x [B, N, D] for every expert's token [G, D] -> [B, N, G]
    if self.cosine_routing:
      return torch.mul(torch.matmul(self.unit(x), self.unit(tokens).transpose(0, 1)), self.routing_scale)
    return torch.matmul(x, tokens.transpose(0, 1))

  def rms(self: __torch__.EncoderForward, x: Tensor, gamma: Tensor) -> Tensor:
    # the reference RMSNorm: normalize * sqrt(D) * gamma
    return torch.mul(torch.mul(self.unit(x), self.root_dim), gamma)

  def rotary(self: __torch__.EncoderForward, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    # x*cos + rotate_half(x)*sin, rotate_half's sign folded into the sine table: a roll
    return torch.add(torch.mul(x, cos), torch.mul(torch.roll(x, [self.dim_head // 2], [-1]), sin))

  def unit(self: __torch__.EncoderForward, x: Tensor) -> Tensor:
    return torch.div(x, torch.clamp_min(torch.linalg_vector_norm(x, 2, [-1], True), 1e-12))
