  # DecodeStep's full forward of whole rows (joined into decode_step.py's class): hidden (embeddings,
  # right-padded rows), routing_scores (one text's router logits, for return_routing) and
  # prefill_windows (a fresh prompt's whole windows, leaving the state a step per window leaves).
  def hidden(self: __torch__.DecodeStep, wts: List[Tensor], ids: Tensor, lengths: Tensor, final_gamma: Tensor) -> Tensor:
    # The model's full forward over right-padded rows, for embeddings: ids [B, N] int64, lengths
    # [B] int64 (row b's first lengths[b] tokens are real) -> the final normed hidden states
    # [B, N, D] float32 (padded positions hold nothing meaningful). The canonical rule, as
    # FullForward computes it: local attention of position i over i-W..i; per window >= 1 and
    # expert, the top-k_q of the window's real rows and the top-k_kv of the positions before the
    # window (stable sorts: ties to the lower position). Every row of a window attends to the
    # window's routed keys; rows an expert did not select take its null token instead.
    B = ids.size(0)
    N = ids.size(1)
    D = self.dim
    pos = torch.arange(N, dtype=ids.dtype, device=ids.device)
    x = torch.add(torch.index_select(wts[self.w_token_emb], 0, ids.reshape(-1)).view(B, N, D), wts[self.w_pos_emb][0:N])
    cos, sin = self.rope_at(wts, pos)
    cos = cos.unsqueeze(0)                                                    # [1, N, 1, dh]
    sin = sin.unsqueeze(0)
    real = torch.lt(pos.view(1, N), lengths.view(B, 1))                        # [B, N]
    local_bias = self.local_bias_blocks(N, x.device)                          # [nb, W, 2W]
    for l in range(self.depth):
      x = self.full_layer(wts, self.w_first_layer + self.w_per_layer * l, x, cos, sin, local_bias, real)
    return torch.mul(self.unit(x), final_gamma)                                # [B, N, D]

  def routing_scores(self: __torch__.DecodeStep, wts: List[Tensor], ids: Tensor) -> Tensor:
    # What one text routed (return_routing), by the same full forward as hidden(): ids [1, N]
    # int64 -> each layer's router logits of its input, [L, 2, N, G] float32 (0: queries, 1: keys/
    # values); the caller selects from them as RoutingSelection does.
    N = ids.size(1)
    D = self.dim
    pos = torch.arange(N, dtype=ids.dtype, device=ids.device)
    x = torch.add(torch.index_select(wts[self.w_token_emb], 0, ids.reshape(-1)).view(1, N, D), wts[self.w_pos_emb][0:N])
    cos, sin = self.rope_at(wts, pos)
    cos = cos.unsqueeze(0)
    sin = sin.unsqueeze(0)
    real = torch.ge(pos.view(1, N), 0)                                        # [1, N]: every position is real
    local_bias = self.local_bias_blocks(N, x.device)
    scores: List[Tensor] = []
    for l in range(self.depth):
      lw = self.w_first_layer + self.w_per_layer * l
      q = self.row_logits(x[0], wts[lw + self.w_query_tokens])                 # [N, G]
      kv = self.row_logits(x[0], wts[lw + self.w_kv_tokens])
      scores.append(torch.stack([q, kv], 0))
      x = self.full_layer(wts, lw, x, cos, sin, local_bias, real)
    return torch.stack(scores, 0)                                             # [L, 2, N, G]

  def full_layer(self: __torch__.DecodeStep, wts: List[Tensor], lw: int, x: Tensor, cos: Tensor, sin: Tensor,
      local_bias: Tensor, real: Tensor) -> Tensor:
    # one residual layer over whole rows: x + local + routed, then + feed-forward; x [B, N, D]
    mix = self.local_full(wts, lw, x, cos, sin, local_bias)
    if x.size(1) > self.window:
      mix = torch.add(mix, self.routed_full(wts, lw, x, cos, sin, real))
    h = torch.add(x, mix)
    ff = torch.gelu(self.mm(self.unit(h), wts[lw + self.w_ff1], wts[lw + self.w_ff1_bias]))
    return torch.add(h, self.mm(ff, wts[lw + self.w_ff2], wts[lw + self.w_ff2_bias]))

  def local_bias_blocks(self: __torch__.DecodeStep, N: int, device: Device) -> Tensor:
    # additive mask of blocked local attention, [nb, W, 2W]: query i of block b sees look-around
    # key j (absolute (b-1)W + j) iff 0 <= W + i - j <= W; block 0 has no previous block
    W = self.local_window
    nb = (N + W - 1) // W
    i = torch.arange(W, device=device).view(W, 1)
    j = torch.arange(2 * W, device=device).view(1, 2 * W)
    seen = torch.logical_and(torch.ge(j, i), torch.le(j, torch.add(i, W)))    # [W, 2W]
    first = torch.logical_and(seen, torch.ge(j, W))
    blocks = torch.cat([first.unsqueeze(0), seen.unsqueeze(0).expand(nb - 1, W, 2 * W)], 0)
    return torch.mul(torch.logical_not(blocks).float(), self.neg)

  def local_full(self: __torch__.DecodeStep, wts: List[Tensor], lw: int, x: Tensor, cos: Tensor, sin: Tensor,
      bias: Tensor) -> Tensor:
    # causal local attention of every position over the W before it, in blocks of W with one
    # block of look-back: x [B, N, D] -> [B, N, D]
    B = x.size(0)
    N = x.size(1)
    H = self.heads
    dh = self.dim_head
    I = self.inner
    W = self.local_window
    nb = bias.size(0)
    ln = torch.layer_norm(x, [self.dim], wts[lw + self.w_ln_weight], wts[lw + self.w_ln_bias], 1e-5)
    qkv = self.mm(ln, wts[lw + self.w_local_in], None)                         # [B, N, 3I]
    qk = self.rotary(qkv[:, :, 0:2 * I].reshape(B, N, 2 * H, dh), cos, sin)   # [B, N, 2H, dh]
    v = qkv[:, :, 2 * I:3 * I].reshape(B, N, H, dh)
    pad = nb * W - N
    qk = torch.constant_pad_nd(qk, [0, 0, 0, 0, 0, pad], 0.0)
    v = torch.constant_pad_nd(v, [0, 0, 0, 0, 0, pad], 0.0)
    q = qk[:, :, 0:H].reshape(B * nb, W, H, dh).transpose(1, 2)               # [B*nb, H, W, dh]
    k = qk[:, :, H:2 * H].reshape(B, nb, W, H, dh)
    vb = v.reshape(B, nb, W, H, dh)
    k = torch.cat([torch.constant_pad_nd(k[:, 0:nb - 1], [0, 0, 0, 0, 0, 0, 1, 0], 0.0), k], 2)   # [B, nb, 2W, H, dh]
    vb = torch.cat([torch.constant_pad_nd(vb[:, 0:nb - 1], [0, 0, 0, 0, 0, 0, 1, 0], 0.0), vb], 2)
    k = k.reshape(B * nb, 2 * W, H, dh).transpose(1, 2)                       # [B*nb, H, 2W, dh]
    vb = vb.reshape(B * nb, 2 * W, H, dh).transpose(1, 2)
    mask = bias.unsqueeze(0).expand(B, nb, W, 2 * W).reshape(B * nb, 1, W, 2 * W)
    att = torch.scaled_dot_product_attention(q, k, vb, mask, 0.0, False, scale=1.0)   # [B*nb, H, W, dh]
    out = att.transpose(1, 2).reshape(B, nb * W, I)[:, 0:N]
    return self.mm(out, wts[lw + self.w_local_out], None)                      # [B, N, D]

  def routed_full(self: __torch__.DecodeStep, wts: List[Tensor], lw: int, x: Tensor, cos: Tensor, sin: Tensor,
      real: Tensor) -> Tensor:
    # every expert's attention for windows >= 1: x [B, N, D], real [B, N] -> [B, N, D] (window 0: 0)
    B = x.size(0)
    N = x.size(1)
    D = self.dim
    H = self.heads
    dh = self.dim_head
    I = self.inner
    G = self.experts
    w = self.window
    nw = (N + w - 1) // w
    nq = nw - 1
    ctx = nq * w
    K = min(self.routed_kv, ctx)
    pad = nw * w - N
    u = self.unit(x)
    # queries: the top-k_q real rows of each window by the query router
    sq = torch.where(real.unsqueeze(2), self.row_logits(x, wts[lw + self.w_query_tokens]), self.neg)   # [B, N, G]
    sq = torch.constant_pad_nd(sq, [0, 0, 0, pad], self.neg)
    sq = sq.view(B, nw, w, G)[:, 1:].permute([0, 1, 3, 2])                   # [B, nq, G, w]
    order = torch.sort(sq, dim=-1, descending=True, stable=True)[1]
    sel = torch.zeros_like(sq).scatter_(3, order[:, :, :, 0:self.routed_queries], 1.0)
    realw = torch.constant_pad_nd(real.float(), [0, pad], 0.0).view(B, nw, 1, w)[:, 1:]
    sel = torch.mul(sel, realw)                                               # [B, nq, G, w] 0/1
    # keys/values: for window i, the top-k_kv of positions < i*w by the key/value router
    skv = self.row_logits(x[:, 0:ctx], wts[lw + self.w_kv_tokens]).permute([0, 2, 1])       # [B, G, ctx]
    ends = torch.mul(torch.arange(1, nq + 1, device=x.device), w).view(nq, 1)
    pick = self.prefix_top_k(skv.reshape(B, G, nq, w), K)                    # [B, G, nq, K]
    kv = self.mm(u[:, 0:ctx], wts[lw + self.w_routed_kv], None).view(B, ctx, G, 2, H, dh)
    keys = self.rotary(kv[:, :, :, 0], cos[:, 0:ctx].unsqueeze(2), sin[:, 0:ctx].unsqueeze(2))   # [B, ctx, G, H, dh]
    at = pick.reshape(B, G, nq * K, 1, 1).expand(B, G, nq * K, H, dh)
    keys = torch.gather(keys.permute([0, 2, 1, 3, 4]), 2, at).view(B, G, nq, K, H, dh)
    values = torch.gather(kv[:, :, :, 1].permute([0, 2, 1, 3, 4]), 2, at).view(B, G, nq, K, H, dh)
    null_k = wts[lw + self.w_null_k].float().view(1, G, 1, H, 1, dh).expand(B, G, nq, H, 1, dh)
    null_v = wts[lw + self.w_null_v].float().view(1, G, 1, H, 1, dh).expand(B, G, nq, H, 1, dh)
    keys = torch.cat([null_k, keys.transpose(3, 4)], 4).reshape(B * G * nq, H, K + 1, dh)
    values = torch.cat([null_v, values.transpose(3, 4)], 4).reshape(B * G * nq, H, K + 1, dh)
    have = torch.lt(torch.arange(K, device=x.device).view(1, K), ends)        # [nq, K]: fewer than K before window i
    bias = torch.cat([torch.zeros([nq, 1], device=x.device), torch.mul(torch.logical_not(have).float(), self.neg)], 1)
    bias = bias.view(1, 1, nq, 1, 1, K + 1).expand(B, G, nq, 1, 1, K + 1).reshape(B * G * nq, 1, 1, K + 1)
    # every row of windows >= 1 attends (a row its expert did not select is masked out below)
    qs = self.rotary(self.mm(u, wts[lw + self.w_routed_q], None).view(B, N, G * H, dh), cos, sin)
    qs = torch.constant_pad_nd(qs, [0, 0, 0, 0, 0, pad], 0.0).view(B, nw, w, G, H, dh)[:, 1:]
    qs = qs.permute([0, 3, 1, 4, 2, 5]).reshape(B * G * nq, H, w, dh)
    att = torch.scaled_dot_product_attention(qs, keys, values, bias, 0.0, False, scale=1.0)   # [B*G*nq, H, w, dh]
    att = att.view(B, G, nq, H, w, dh).permute([0, 2, 4, 1, 3, 5]).reshape(B, ctx, G, I)
    chosen = sel.permute([0, 1, 3, 2]).reshape(B, ctx, G)                     # [B, nq*w, G]
    out = self.mm(torch.mul(att, chosen.unsqueeze(3)).reshape(B, ctx, G * I), wts[lw + self.w_routed_out], None)
    out = torch.add(out, torch.matmul(torch.rsub(chosen, 1.0), wts[lw + self.w_null_tokens]))   # [B, nq*w, D]
    return torch.constant_pad_nd(out, [0, 0, w, 0], 0.0)[:, 0:N]              # window 0 gets none

  def prefix_top_k(self: __torch__.DecodeStep, logits: Tensor, K: int) -> Tensor:
    # For each block i of w positions: the positions of the top-K logits among blocks 0..i, in
    # canonical order (logit descending, ties to the lower position; the rest when fewer than K
    # exist are padding the caller masks). logits [B, G, nb, w] -> positions [B, G, nb, K].
    # A prefix scan (Hillis-Steele) with "merge two top-K lists" as its operator: log2(nb)
    # rounds of a sort over 2K candidates per block, instead of one sort over every earlier
    # position per block (O(n^2 / w), minutes at 32k tokens).
    B = logits.size(0)
    G = logits.size(1)
    nb = logits.size(2)
    w = logits.size(3)
    order = torch.sort(logits, dim=-1, descending=True, stable=True)
    vals = order[0]
    pos = torch.add(order[1], torch.mul(torch.arange(nb, device=logits.device), w).view(1, 1, nb, 1))
    if w < K:
      # a block holds fewer than K: pad with entries that sort last
      vals = torch.constant_pad_nd(vals, [0, K - w], self.neg)
      pos = torch.constant_pad_nd(pos, [0, K - w], 0)
    else:
      vals = vals[:, :, :, 0:K]
      pos = pos[:, :, :, 0:K]
    s = 1
    while s < nb:
      # block i (i >= s) merges the top-K of blocks up to i - s (earlier positions first, so a
      # stable sort keeps ties at the lower position) with its own running top-K
      v2 = torch.cat([vals[:, :, 0:nb - s], vals[:, :, s:]], 3)                 # [B, G, nb-s, 2K]
      p2 = torch.cat([pos[:, :, 0:nb - s], pos[:, :, s:]], 3)
      o = torch.sort(v2, dim=-1, descending=True, stable=True)
      top = o[1][:, :, :, 0:K]
      vals = torch.cat([vals[:, :, 0:s], o[0][:, :, :, 0:K]], 2)
      pos = torch.cat([pos[:, :, 0:s], torch.gather(p2, 3, top)], 2)
      s = s * 2
    return pos

  def prefill_windows(self: __torch__.DecodeStep, wts: List[Tensor], pool: List[Tensor], ids: Tensor, slot: int) -> Tensor:
    # Feeds a fresh slot's first n prompt tokens (whole routed windows, exact decoding) in one
    # full forward, and leaves the state a step per window would have left at this boundary:
    # the positions' ring entries; per layer the local keys/values of the last R positions at
    # ring index p % R, and per expert the top-k_kv routed keys/values of all n positions in rank
    # order (logit descending, ties to the lower position: what commit keeps), with their
    # logits; no current-window rows. ids [n] int64 -> an empty tensor.
    n = ids.size(0)
    D = self.dim
    H = self.heads
    dh = self.dim_head
    I = self.inner
    G = self.experts
    R = self.ring
    K = min(self.routed_kv, n)
    pos = torch.arange(n, dtype=ids.dtype, device=ids.device)
    x = torch.add(torch.index_select(wts[self.w_token_emb], 0, ids), wts[self.w_pos_emb][0:n]).view(1, n, D)
    cos, sin = self.rope_at(wts, pos)
    cos = cos.unsqueeze(0)                                                    # [1, n, 1, dh]
    sin = sin.unsqueeze(0)
    real = torch.ge(pos, 0).view(1, n)
    local_bias = self.local_bias_blocks(n, ids.device)
    first = max(0, n - R)
    kept = pos[first:]                                                        # [r] positions the ring keeps
    ring_at = torch.remainder(kept, R)
    slots = torch.full([n - first], slot, dtype=ids.dtype, device=ids.device)
    pool[self.p_ring_pos][slot].index_copy_(0, ring_at, kept.float())
    for l in range(self.depth):
      lw = self.w_first_layer + self.w_per_layer * l
      lp = self.p_first_layer + self.p_per_layer * l
      kd = pool[lp + self.p_k].dtype
      # local keys/values of the ring's positions
      ln = torch.layer_norm(x[0, first:], [D], wts[lw + self.w_ln_weight], wts[lw + self.w_ln_bias], 1e-5)
      qkv = self.mm(ln, wts[lw + self.w_local_in], None)                       # [r, 3I]
      k = self.rotary(qkv[:, I:2 * I].reshape(n - first, H, dh), cos[0, first:], sin[0, first:])
      pool[lp + self.p_k][slots, :, ring_at] = k.to(kd)                               # [P, H, R, dh]
      pool[lp + self.p_v][slots, :, ring_at] = qkv[:, 2 * I:3 * I].reshape(n - first, H, dh).to(kd)
      # every expert's top-k_kv of all n positions
      u = self.unit(x[0])
      order = torch.sort(self.row_logits(x[0], wts[lw + self.w_kv_tokens]).transpose(0, 1), dim=-1, descending=True, stable=True)
      pick = order[1][:, 0:K]                                                  # [G, K]
      kv = self.mm(u, wts[lw + self.w_routed_kv], None).view(n, G, 2, H, dh)
      keys = self.rotary(kv[:, :, 0], cos[0].unsqueeze(1), sin[0].unsqueeze(1))   # [n, G, H, dh]
      at = pick.reshape(G, K, 1, 1).expand(G, K, H, dh)
      pool[lp + self.p_routed_k][slot, :, :, 1:K + 1] = torch.gather(keys.transpose(0, 1), 1, at).transpose(1, 2).to(kd)   # [G, H, K, dh]
      pool[lp + self.p_routed_v][slot, :, :, 1:K + 1] = torch.gather(kv[:, :, 1].transpose(0, 1), 1, at).transpose(1, 2).to(kd)
      pool[lp + self.p_routed_bias][slot, :, :, :, 1:K + 1] = 0.0
      pool[lp + self.p_routed_score][slot, :, 0:K] = order[0][:, 0:K]
      x = self.full_layer(wts, lw, x, cos, sin, local_bias, real)
    return torch.zeros([0], device=ids.device)
