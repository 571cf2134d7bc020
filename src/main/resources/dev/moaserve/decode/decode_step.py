class DecodeStep(Module):
  # One exact incremental decode step of canonical MoA for a batch of B running sequences, as
  # one TorchScript call; and the full forward of whole rows, for embeddings (hidden) and for a
  # prompt's whole windows (prefill_windows). This file is TorchScript source (the dialect libtorch compiles when it
  # loads an archive); ScriptArchive writes it into an archive at startup with the model's
  # sizes as the attributes below. Weights and the state pool come in as tensor lists whose
  # slots are named by attributes (w_*, p_*: StepSlots); the pool is updated in place.
  #
  # Letters: B running slots, P pool slots, w routed window, W local window, R ring entries,
  # D dim, H heads, dh dim_head, I = H*dh, G experts, K kept routed keys/values (k_kv),
  # m rows computed at a layer, T = the most rows any slot computes at that layer.
  __parameters__ = []
  __buffers__ = []
  training : bool
  depth : int
  dim : int
  heads : int
  dim_head : int
  inner : int
  experts : int
  window : int
  local_window : int
  ring : int
  routed_queries : int
  routed_kv : int
  cosine_routing : bool
  routing_scale : float
  neg : float
  # the slots of the weight and pool lists, named once in StepSlots (Java) and set at load
  w_token_emb : int
  w_pos_emb : int
  w_rope : int
  w_logits : int
  w_logits_bias : int
  w_first_layer : int
  w_per_layer : int
  w_ln_weight : int
  w_ln_bias : int
  w_local_in : int
  w_local_out : int
  w_query_tokens : int
  w_kv_tokens : int
  w_routed_q : int
  w_routed_kv : int
  w_routed_out : int
  w_null_tokens : int
  w_null_k : int
  w_null_v : int
  w_ff1 : int
  w_ff1_bias : int
  w_ff2 : int
  w_ff2_bias : int
  p_ring_pos : int
  p_first_layer : int
  p_per_layer : int
  p_k : int
  p_v : int
  p_win_h : int
  p_win_sel : int
  p_routed_k : int
  p_routed_v : int
  p_routed_bias : int
  p_routed_score : int
  p_win_logit : int
  # the step's and the sampler's integers, by name (StepSlots.Plan, SampleBatch.Meta)
  m_batch : int
  m_new_tokens : int
  m_commits : int
  m_sequences : int
  m_cached : int
  m_any_routed : int
  m_fixed_rows : int
  m_any_frozen : int
  m_dense : int
  m_last_is_plan : int
  m_frozen_only : int
  # where the step's arrays' section bounds start in its integers, and the sections (StepSlots.Floats, Ids)
  m_float_bounds : int
  m_id_bounds : int
  f_valid : int
  f_query_position : int
  f_new_rows : int
  f_routed_flag : int
  f_frozen : int
  i_tokens : int
  i_window_rows : int
  i_positions : int
  i_ring_rows : int
  i_commits : int
  i_last_rows : int
  i_fixed_rows : int
  i_fixed_places : int
  s_rows : int
  s_penalised : int
  s_candidates : int
  s_logprobs : int
  s_any_sampled : int
  s_masked : int

  def step(self: __torch__.DecodeStep,
      wts: List[Tensor], pool: List[Tensor], f: Tensor, ids: Tensor, meta: List[int], rows_out: Tensor) -> Tensor:
    # meta: the step's integers by name (StepSlots.Plan has what each means), then the bounds of
    # f's and ids' sections (StepSlots.Floats, StepSlots.Ids: what each holds and its shape)
    B = meta[self.m_batch]
    c = meta[self.m_commits]
    S = meta[self.m_sequences]
    cached = meta[self.m_cached] == 1
    any_routed = meta[self.m_any_routed] == 1
    fixed_t = meta[self.m_fixed_rows]
    any_frozen = meta[self.m_any_frozen] == 1
    dense = meta[self.m_dense] == 1
    last_is_plan = meta[self.m_last_is_plan] == 1
    frozen_only = meta[self.m_frozen_only] == 1
    # frozen slots rank each new row among the logits its window's earlier rows had on arrival:
    # keep them as rows are computed (never needed if every query is routed)
    keep_logits = any_frozen and self.routed_queries < self.window
    w = self.window
    D = self.dim
    valid = self.section(f, meta, self.m_float_bounds, self.f_valid).view(B, w)
    qpos = self.section(f, meta, self.m_float_bounds, self.f_query_position).view(B, w)
    changed = self.section(f, meta, self.m_float_bounds, self.f_new_rows).view(B, w)
    flag = self.section(f, meta, self.m_float_bounds, self.f_routed_flag)                    # [B]
    frozen = torch.gt(self.section(f, meta, self.m_float_bounds, self.f_frozen), 0.5)        # [B] bool
    new_rows = torch.gt(changed, 0.0)                                          # [B, w]
    tokens = self.section(ids, meta, self.m_id_bounds, self.i_tokens)                       # [n]
    win_rows = self.section(ids, meta, self.m_id_bounds, self.i_window_rows)                # [n]
    positions = self.section(ids, meta, self.m_id_bounds, self.i_positions)                 # [n]
    ring_rows = self.section(ids, meta, self.m_id_bounds, self.i_ring_rows)                 # [n]
    commits = self.section(ids, meta, self.m_id_bounds, self.i_commits)                     # [c]
    last = self.section(ids, meta, self.m_id_bounds, self.i_last_rows)                      # [S]
    fixed_rows = self.section(ids, meta, self.m_id_bounds, self.i_fixed_rows)               # [mf]
    fixed_places = self.section(ids, meta, self.m_id_bounds, self.i_fixed_places)           # [mf]

    # new tokens: embeddings into layer 0's window rows, positions into the ring
    emb = torch.add(torch.index_select(wts[self.w_token_emb], 0, tokens), torch.index_select(wts[self.w_pos_emb], 0, positions))
    torch.index_copy_(pool[self.p_first_layer + self.p_win_h].view(-1, D), 0, win_rows, emb)
    torch.index_copy_(pool[self.p_ring_pos].view(-1), 0, ring_rows, positions.float())
    ring_pos = pool[self.p_ring_pos][0:B]                                                    # [B, R]
    invalid = torch.mul(torch.sub(valid, 1.0), -self.neg).unsqueeze(1)         # [B, 1, w] 0 or NEG

    # what attention needs about a row set, computed once for every layer that uses it: the
    # host's fixed plan, and each sequence's last row (all the last layer goes on with)
    slot_last = torch.div(last, w, rounding_mode="floor")
    at_last = self.rows_info(last, slot_last, 1, B, qpos, ring_pos, flag, wts[self.w_rope], S == B and last_is_plan)
    info = at_last
    if fixed_t > 0 and not last_is_plan:
      info = self.rows_info(fixed_rows, fixed_places, fixed_t, B, qpos, ring_pos, flag, wts[self.w_rope], dense)

    h_last = emb
    for l in range(self.depth):
      lw = self.w_first_layer + self.w_per_layer * l
      lp = self.p_first_layer + self.p_per_layer * l
      rows = info[0]                                                        # [m] rows this layer computes, b*w + t
      win_h = pool[lp + self.p_win_h][0:B]                                                # [B, w, D] layer inputs
      win_sel = pool[lp + self.p_win_sel][0:B]                                              # [B, G, w]
      win_logit = pool[lp + self.p_win_logit][0:B]                                            # [B, w, G]
      if cached:
        # no earlier row can change: every expert routes every filled row
        sel = valid.unsqueeze(1).expand(B, self.experts, w)
        if keep_logits:
          self.keep_row_logits(win_h, win_logit, rows, wts[lw + self.w_query_tokens])
      elif frozen_only:
        sel = self.select_new_rows(win_h, win_sel, win_logit, rows, wts[lw + self.w_query_tokens])
      else:
        logit = self.scores(win_h, wts[lw + self.w_query_tokens])                                # [B, G, w]
        if keep_logits:
          win_logit.copy_(logit.transpose(1, 2))
        sel = self.select(logit, invalid, valid)
        if any_frozen:
          # a frozen row keeps the routing it had on arrival: its rank among the rows up to it
          sel = torch.where(frozen.view(B, 1, 1), self.select_arrival(logit, valid), sel)
      if fixed_t == 0:
        # lazy plan: a row's output can change if its input or an earlier row's input changed
        # (local attention carries it forward), or its own routing changed at this layer
        sel_changed = torch.mul(torch.sum(torch.abs(torch.sub(sel, win_sel)), [1]), flag.unsqueeze(1))
        need = torch.logical_and(torch.gt(torch.add(torch.cumsum(changed, 1), sel_changed), 0.0), torch.gt(valid, 0.0))
        if any_frozen:
          need = torch.where(frozen.view(B, 1), new_rows, need)                # frozen: never revised
        changed = need.float()
        rows = torch.nonzero(need.view(-1)).view(-1)                           # [m] b*w + t
        rank = torch.sub(torch.cumsum(need.long(), 1), 1).view(-1)
        t_rows = int(torch.max(torch.sum(need.long(), [1])).item())
        place = torch.add(torch.mul(torch.div(rows, w, rounding_mode="floor"), t_rows), torch.index_select(rank, 0, rows))
        info = self.rows_info(rows, place, t_rows, B, qpos, ring_pos, flag, wts[self.w_rope], False)
      if cached or not frozen_only:
        win_sel.copy_(sel)                                                     # (select_new_rows wrote its own rows)
      rows_out.add_(rows.size(0))
      final = l + 1 == self.depth
      out = self.layer(wts, pool, l, info, at_last, B, sel, any_routed, final, fixed_t > 0 and last_is_plan)
      if final:
        h_last = out                                                           # [S, D]
      else:
        torch.index_copy_(pool[lp + self.p_per_layer + self.p_win_h].view(-1, D), 0, rows, out)

    logits = torch.linear(self.unit(h_last).to(wts[self.w_logits].dtype), wts[self.w_logits], wts[self.w_logits_bias]).float()
    if c > 0:
      self.commit(wts, pool, commits, qpos)
    return logits                                                              # [S, V]

  def section(self: __torch__.DecodeStep, t: Tensor, meta: List[int], bounds: int, i: int) -> Tensor:
    # section i of a step array whose bounds start at meta[bounds]
    return t[meta[bounds + i]:meta[bounds + i + 1]]

  def bfloat16_matmuls(self: __torch__.DecodeStep, wts: List[Tensor], matmul: List[int]) -> List[Tensor]:
    # the weights with every matmul's weight and bias (indices `matmul`: StepSlots) in bfloat16
    # (dtype code 15), the rest as given: the step then multiplies in bfloat16 (oneDNN; 2-3x
    # float32's rate at decode batch sizes on a CPU with AVX512-BF16) while norms, softmax,
    # routing and the state stay float32
    out: List[Tensor] = []
    for i in range(len(wts)):
      out.append(wts[i])
    for i in matmul:
      out[i] = wts[i].to(15)
    return out

  def echo_sections(self: __torch__.DecodeStep, f: Tensor, ids: Tensor, meta: List[int]) -> List[Tensor]:
    # each section of a step's arrays as step() cuts it, by name, in StepSlots.Floats then Ids
    # order: what a test compares with what StepPlan wrote
    return [self.section(f, meta, self.m_float_bounds, self.f_valid),
            self.section(f, meta, self.m_float_bounds, self.f_query_position),
            self.section(f, meta, self.m_float_bounds, self.f_new_rows),
            self.section(f, meta, self.m_float_bounds, self.f_routed_flag),
            self.section(f, meta, self.m_float_bounds, self.f_frozen),
            self.section(ids, meta, self.m_id_bounds, self.i_tokens),
            self.section(ids, meta, self.m_id_bounds, self.i_window_rows),
            self.section(ids, meta, self.m_id_bounds, self.i_positions),
            self.section(ids, meta, self.m_id_bounds, self.i_ring_rows),
            self.section(ids, meta, self.m_id_bounds, self.i_commits),
            self.section(ids, meta, self.m_id_bounds, self.i_last_rows),
            self.section(ids, meta, self.m_id_bounds, self.i_fixed_rows),
            self.section(ids, meta, self.m_id_bounds, self.i_fixed_places)]

  def echo_slots(self: __torch__.DecodeStep, wts: List[Tensor], pool: List[Tensor], l: int) -> List[Tensor]:
    # every named slot as the program reads it, model-wide then layer l's, weights then pool, in
    # StepSlots' order: what a test compares with the Java side's tensors
    lw = self.w_first_layer + self.w_per_layer * l
    lp = self.p_first_layer + self.p_per_layer * l
    return [wts[self.w_token_emb], wts[self.w_pos_emb], wts[self.w_rope], wts[self.w_logits], wts[self.w_logits_bias],
        wts[lw + self.w_ln_weight], wts[lw + self.w_ln_bias], wts[lw + self.w_local_in], wts[lw + self.w_local_out],
        wts[lw + self.w_query_tokens], wts[lw + self.w_kv_tokens], wts[lw + self.w_routed_q], wts[lw + self.w_routed_kv],
        wts[lw + self.w_routed_out], wts[lw + self.w_null_tokens], wts[lw + self.w_null_k], wts[lw + self.w_null_v],
        wts[lw + self.w_ff1], wts[lw + self.w_ff1_bias], wts[lw + self.w_ff2], wts[lw + self.w_ff2_bias],
        pool[self.p_ring_pos], pool[lp + self.p_k], pool[lp + self.p_v], pool[lp + self.p_win_h], pool[lp + self.p_win_sel],
        pool[lp + self.p_routed_k], pool[lp + self.p_routed_v], pool[lp + self.p_routed_bias], pool[lp + self.p_routed_score],
        pool[lp + self.p_win_logit]]

  def rows_info(self: __torch__.DecodeStep, rows: Tensor, place: Tensor, t_rows: int, B: int,
      qpos: Tensor, ring_pos: Tensor, flag: Tensor, rope_table: Tensor, dense: bool) -> Tuple[Tensor, Tensor, int, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, bool]:
    # rows [m] window rows b*w + t (ascending); place [m] their index b*T + i in the [B, T]
    # attention layout -> (rows, place, T, slot [m], cos, sin [m, 1, dh], ring entry [m],
    #                      local mask [B, 1, T, R], window>=1 flag [m, 1], dense: place is
    #                      0..m-1, so the layout is a view of the packed rows)
    R = self.ring
    slot = torch.div(rows, self.window, rounding_mode="floor")
    pos = torch.index_select(qpos.reshape(-1), 0, rows)                        # [m] float
    rope = torch.index_select(rope_table, 0, pos.long())                      # [m, 2, dh]
    q_pos = pos.new_full([B * t_rows], -1.0e9)
    torch.index_copy_(q_pos, 0, place, pos)
    diff = torch.sub(q_pos.view(B, t_rows, 1), ring_pos.view(B, 1, R))        # [B, T, R]
    hidden = torch.logical_or(torch.lt(diff, 0.0), torch.gt(diff, float(self.local_window)))
    local_bias = torch.mul(hidden.float(), self.neg).unsqueeze(1)              # [B, 1, T, R]
    row_flag = torch.index_select(flag, 0, slot).unsqueeze(1)
    return (rows, place, t_rows, slot, rope[:, 0:1], rope[:, 1:2], torch.remainder(pos.long(), R), local_bias, row_flag, dense)

  def step_sample(self: __torch__.DecodeStep,
      wts: List[Tensor], pool: List[Tensor], f: Tensor, ids: Tensor, meta: List[int], rows_out: Tensor,
      sf: Tensor, si: Tensor, smeta: List[int]) -> Tensor:
    # the step, then the batched sampler on its logits: only sampled tokens leave the call
    return self.sample(self.step(wts, pool, f, ids, meta, rows_out), sf, si, smeta)

  def sample(self: __torch__.DecodeStep, logits: Tensor, sf: Tensor, si: Tensor, smeta: List[int]) -> Tensor:
    # Picks the next token of S rows of logits [N, V]: penalties and logit bias, the
    # structured-output mask, greedy or temperature -> top-k -> top-p -> min-p -> a draw with
    # each row's own uniform (drawn on the host from its seeded generator, so a seeded request
    # samples the same alone or in any batch). Candidates by partial selection (topk over at
    # most k tokens), never a full sort of the vocabulary.
    # smeta by name (SampleBatch.Meta): rows S, penalised entries p, candidates k, logprobs L,
    #       any sampled (0/1), masked (0/1)
    # sf float: per row [S, 6] temperature, top-k, top-p, min-p, uniform, greedy
    #           | per entry a [p], b [p], c [p]: l' = (l > 0 ? l*a : l*b) - c | mask [S, V]
    # si int64: rows of `logits` to sample [S] | entries' row [p] | entries' token [p]
    # -> [S, 2 + 2L]: token, its log-probability, the L most likely tokens, their log-probabilities
    S = smeta[self.s_rows]
    p = smeta[self.s_penalised]
    k = smeta[self.s_candidates]
    L = smeta[self.s_logprobs]
    model = torch.index_select(logits, 0, si[0:S])                             # [S, V]
    V = model.size(1)
    x = model
    if p > 0:
      at_row = si[S:S + p]
      at_token = si[S + p:S + 2 * p]
      a = sf[6 * S:6 * S + p]
      b = sf[6 * S + p:6 * S + 2 * p]
      c = sf[6 * S + 2 * p:6 * S + 3 * p]
      old = model[at_row, at_token]
      x = model.clone()
      x[at_row, at_token] = torch.sub(torch.where(torch.gt(old, 0.0), torch.mul(old, a), torch.mul(old, b)), c)
    if smeta[self.s_masked] == 1:
      x = torch.add(x, sf[6 * S + 3 * p:6 * S + 3 * p + S * V].view(S, V))
    token = torch.argmax(x, 1)                                                 # greedy [S]
    if smeta[self.s_any_sampled] == 1:
      q = sf[0:6 * S].view(S, 6)
      probs = torch.softmax(torch.div(x, q[:, 0:1]), 1)
      top = torch.topk(probs, k, 1, True, True)
      vals = top[0]                                                            # [S, k]
      rank = torch.arange(k, dtype=vals.dtype, device=vals.device).view(1, k)
      cum = torch.cumsum(vals, 1)
      keep = torch.logical_and(torch.logical_and(torch.lt(rank, q[:, 1:2]), torch.lt(torch.sub(cum, vals), q[:, 2:3])),
          torch.ge(vals, torch.mul(vals[:, 0:1], q[:, 3:4])))
      keep = torch.logical_or(keep, torch.eq(rank, 0.0))                       # the best token always stays
      kept_cum = torch.cumsum(torch.mul(vals, keep.float()), 1)
      target = torch.mul(kept_cum[:, k - 1:k], q[:, 4:5])                      # u * total [S, 1]
      at = torch.minimum(torch.sum(torch.lt(kept_cum, target), [1], True), torch.sub(torch.sum(keep, [1], True), 1))
      drawn = torch.gather(top[1], 1, at).squeeze(1)
      token = torch.where(torch.gt(q[:, 5], 0.5), token, drawn)
    logp = torch.log_softmax(model, 1)                                         # reported: the model's own
    parts = [token.float().unsqueeze(1), torch.gather(logp, 1, token.unsqueeze(1))]
    if L > 0:
      alt = torch.topk(logp, L, 1, True, True)
      parts.append(alt[1].float())
      parts.append(alt[0])
    return torch.cat(parts, 1)

  def layer(self: __torch__.DecodeStep, wts: List[Tensor], pool: List[Tensor], l: int,
      info: Tuple[Tensor, Tensor, int, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, bool],
      at_last: Tuple[Tensor, Tensor, int, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, bool],
      B: int, sel: Tensor, any_routed: bool, final: bool, rows_are_last: bool) -> Tensor:
    # one layer on the rows of `info`: their outputs [m, D]; the final layer writes the rows'
    # keys/values, then goes on with each sequence's last row only (`at_last`): [S, D]
    lw = self.w_first_layer + self.w_per_layer * l
    lp = self.p_first_layer + self.p_per_layer * l
    H = self.heads
    dh = self.dim_head
    I = self.inner
    cd = wts[lw + self.w_local_in].dtype                                                     # matmul dtype
    rows, place, t_rows, slot, cos, sin, ring_at, local_bias, row_flag, dense = info
    m = rows.size(0)
    x = torch.index_select(pool[lp + self.p_win_h][0:B].reshape(-1, self.dim), 0, rows)   # [m, D]

    # local attention over the ring: the W final positions before the window, and the window
    ln = torch.layer_norm(x, [self.dim], wts[lw + self.w_ln_weight], wts[lw + self.w_ln_bias], 1e-5)
    qkv = torch.linear(ln.to(cd), wts[lw + self.w_local_in]).float()                         # [m, 3I]: q, k, v
    qk = self.rotary(qkv[:, 0:2 * I].view(m, 2 * H, dh), cos, sin)             # [m, 2H, dh]
    q = qk[:, 0:H]
    k = qk[:, H:2 * H]
    kd = pool[lp + self.p_k].dtype                                                    # keys/values
    pool[lp + self.p_k][slot, :, ring_at] = k.to(kd)                                   # [P, H, R, dh]
    pool[lp + self.p_v][slot, :, ring_at] = qkv[:, 2 * I:3 * I].reshape(m, H, dh).to(kd)
    if final and not rows_are_last:
      # the last layer's outputs only feed the logits: only each sequence's last row goes on
      at = torch.searchsorted(rows, at_last[0])
      x = torch.index_select(x, 0, at)
      q = torch.index_select(q, 0, at)
      info = at_last
      rows, place, t_rows, slot, cos, sin, ring_at, local_bias, row_flag, dense = at_last
    qb = self.to_layout(q, place, B, t_rows, dense)                           # [B, T, H, dh]
    att = torch.scaled_dot_product_attention(qb.transpose(1, 2),
        pool[lp + self.p_k][0:B].float(), pool[lp + self.p_v][0:B].float(), local_bias, 0.0, False, scale=1.0)
    local = self.from_layout(att.transpose(1, 2).reshape(B * t_rows, I), place, dense)   # [m, I]
    mix = torch.linear(local.to(cd), wts[lw + self.w_local_out]).float()                      # [m, D]

    if any_routed:
      mix = torch.add(mix, self.routed(wts, pool, l, x, info, B, sel))
    h = torch.add(x, mix)
    ff = torch.gelu(torch.linear(self.unit(h).to(cd), wts[lw + self.w_ff1], wts[lw + self.w_ff1_bias]).float())
    return torch.add(h, torch.linear(ff.to(cd), wts[lw + self.w_ff2], wts[lw + self.w_ff2_bias]).float())   # [m, D]

  def routed(self: __torch__.DecodeStep, wts: List[Tensor], pool: List[Tensor], l: int, x: Tensor,
      info: Tuple[Tensor, Tensor, int, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, bool],
      B: int, sel: Tensor) -> Tensor:
    # every expert's attention of the rows over its null key/value and kept top-K of the past;
    # rows an expert did not select (in windows >= 1) take its null token
    lw = self.w_first_layer + self.w_per_layer * l
    lp = self.p_first_layer + self.p_per_layer * l
    rows, place, t_rows, slot, cos, sin, ring_at, local_bias, row_flag, dense = info
    m = rows.size(0)
    H = self.heads
    dh = self.dim_head
    I = self.inner
    G = self.experts
    K1 = self.routed_kv + 1
    cd = wts[lw + self.w_local_in].dtype
    qs = torch.linear(self.unit(x).to(cd), wts[lw + self.w_routed_q]).float().view(m, G * H, dh)
    q = self.rotary(qs, cos, sin)                                                      # [m, G*H, dh]
    qb = self.to_layout(q, place, B, t_rows, dense).view(B, t_rows, G, H, dh)
    qb = qb.permute([0, 2, 3, 1, 4]).reshape(B * G, H, t_rows, dh)
    keys = pool[lp + self.p_routed_k][0:B].reshape(B * G, H, K1, dh).float()
    values = pool[lp + self.p_routed_v][0:B].reshape(B * G, H, K1, dh).float()
    bias = pool[lp + self.p_routed_bias][0:B].reshape(B * G, 1, 1, K1)
    att = torch.scaled_dot_product_attention(qb, keys, values, bias, 0.0, False, scale=1.0)   # [B*G, H, T, dh]
    att = att.view(B, G, H, t_rows, dh).permute([0, 3, 1, 2, 4]).reshape(B * t_rows, G, I)
    per_row = self.from_layout(att, place, dense)                             # [m, G, I]
    chosen = torch.mul(torch.index_select(sel.transpose(1, 2).reshape(-1, G), 0, rows), row_flag)   # [m, G]
    out = torch.linear(torch.mul(per_row, chosen.unsqueeze(2)).reshape(m, G * I).to(cd), wts[lw + self.w_routed_out]).float()
    return torch.add(out, torch.matmul(torch.sub(row_flag, chosen), wts[lw + self.w_null_tokens]))   # [m, D]

  def select(self: __torch__.DecodeStep, logit: Tensor, invalid: Tensor, valid: Tensor) -> Tensor:
    # canonical query routing of every slot's window from its routing logits [B, G, w]: the
    # top-k_q among filled rows, ties to the lower position (a stable sort keeps equal logits in
    # position order)
    s = torch.add(logit, invalid)                                              # [B, G, w]
    order = torch.sort(s, dim=-1, descending=True, stable=True)[1]
    sel = torch.zeros_like(s)
    sel.scatter_(2, order[:, :, 0:self.routed_queries], 1.0)
    return torch.mul(sel, valid.unsqueeze(1))                                  # [B, G, w] 0/1

  def select_arrival(self: __torch__.DecodeStep, s: Tensor, valid: Tensor) -> Tensor:
    # the canonical routing each row had when it arrived (frozen decoding), from the window's
    # routing logits s [B, G, w]: row t is selected iff fewer than k_q earlier rows j < t have
    # a logit >= its own (ties to the lower position)
    w = self.window
    earlier = torch.gt(torch.tril(torch.ones([w, w], dtype=s.dtype, device=s.device), -1), 0.5)   # [t, j]: j < t
    beats = torch.logical_and(torch.ge(s.unsqueeze(2), s.unsqueeze(3)), earlier)   # [B, G, t, j]
    rank = torch.sum(beats, [3])
    return torch.mul(torch.lt(rank, self.routed_queries).float(), valid.unsqueeze(1))   # [B, G, w] 0/1

  def keep_row_logits(self: __torch__.DecodeStep, win_h: Tensor, win_logit: Tensor, rows: Tensor, tokens_t: Tensor) -> Tensor:
    # routing logits of window rows [m] (b*w + t) from their layer inputs, kept in win_logit
    # [B, w, G] -> [m, G]
    s = self.row_logits(torch.index_select(win_h.reshape(-1, self.dim), 0, rows), tokens_t)   # [m, G]
    torch.index_copy_(win_logit.view(-1, self.experts), 0, rows, s)
    return s

  def select_new_rows(self: __torch__.DecodeStep, win_h: Tensor, win_sel: Tensor, win_logit: Tensor, rows: Tensor,
      tokens_t: Tensor) -> Tensor:
    # frozen decoding, a step of new rows only: what select_arrival gives, computed for those
    # rows alone against the logits their window's earlier rows kept on arrival. Row t is
    # selected iff fewer than k_q rows j < t have a logit >= its own; earlier selections stay.
    w = self.window
    s = self.keep_row_logits(win_h, win_logit, rows, tokens_t)                 # [m, G]
    slot = torch.div(rows, w, rounding_mode="floor")
    t = torch.remainder(rows, w)
    earlier = torch.lt(torch.arange(w, dtype=rows.dtype, device=rows.device).view(1, w), t.view(-1, 1))   # [m, w]
    beats = torch.logical_and(torch.ge(torch.index_select(win_logit, 0, slot), s.unsqueeze(1)), earlier.unsqueeze(2))
    win_sel[slot, :, t] = torch.lt(torch.sum(beats, [1]), self.routed_queries).float()   # [m, G]
    return win_sel                                                             # [B, G, w] 0/1

  def scores(self: __torch__.DecodeStep, h: Tensor, tokens_t: Tensor) -> Tensor:
    # routing logits of rows h [N, w, D] for every expert -> [N, G, w]
    return self.row_logits(h, tokens_t).transpose(-1, -2)

  def row_logits(self: __torch__.DecodeStep, x: Tensor, tokens_t: Tensor) -> Tensor:
    # routing logits of rows x [..., D] for every expert -> [..., G]
    if self.cosine_routing:
      return torch.mul(torch.matmul(self.unit(x), tokens_t), self.routing_scale)
    return torch.matmul(x, tokens_t)

  def commit(self: __torch__.DecodeStep, wts: List[Tensor], pool: List[Tensor], commits: Tensor, qpos: Tensor) -> None:
    # folds every completed window into its slot's running top-K: candidates are the kept
    # entries (rank order) then the window's rows (position order), so a stable sort by logit
    # is the canonical rule and topk(S u new) = topk(topk(S) u new) holds exactly
    c = commits.size(0)
    H = self.heads
    dh = self.dim_head
    G = self.experts
    w = self.window
    K = self.routed_kv
    rope = torch.index_select(wts[self.w_rope], 0, torch.index_select(qpos, 0, commits).reshape(-1).long())
    cos = rope[:, 0:1]                                                         # [c*w, 1, dh]
    sin = rope[:, 1:2]
    for l in range(self.depth):
      lw = self.w_first_layer + self.w_per_layer * l
      lp = self.p_first_layer + self.p_per_layer * l
      cd = wts[lw + self.w_routed_kv].dtype
      kd = pool[lp + self.p_routed_k].dtype
      hw = torch.index_select(pool[lp + self.p_win_h], 0, commits)                        # [c, w, D]
      new_score = self.scores(hw, wts[lw + self.w_kv_tokens])                                 # [c, G, w]
      kv = torch.linear(self.unit(hw).to(cd), wts[lw + self.w_routed_kv]).float().view(c, w, G, 2, H, dh)
      new_k = self.rotary(kv[:, :, :, 0].reshape(c * w, G * H, dh), cos, sin)
      new_k = new_k.view(c, w, G, H, dh).permute([0, 2, 3, 1, 4])            # [c, G, H, w, dh]
      new_v = kv[:, :, :, 1].permute([0, 2, 3, 1, 4])
      kept_k = pool[lp + self.p_routed_k][:, :, :, 1:]                                       # [P, G, H, K, dh] views
      kept_v = pool[lp + self.p_routed_v][:, :, :, 1:]
      kept_bias = pool[lp + self.p_routed_bias][:, :, :, :, 1:]                                 # [P, G, 1, 1, K]
      cand_score = torch.cat([torch.index_select(pool[lp + self.p_routed_score], 0, commits), new_score], 2)   # [c, G, K + w]
      cand_bias = torch.cat([torch.index_select(kept_bias, 0, commits).reshape(c, G, K), torch.zeros_like(new_score)], 2)
      pick = torch.sort(cand_score, dim=-1, descending=True, stable=True)[1][:, :, 0:K]    # [c, G, K]
      at = pick.view(c, G, 1, K, 1).expand(c, G, H, K, dh)
      cand_k = torch.cat([torch.index_select(kept_k, 0, commits).float(), new_k], 3)
      cand_v = torch.cat([torch.index_select(kept_v, 0, commits).float(), new_v], 3)
      torch.index_copy_(kept_k, 0, commits, torch.gather(cand_k, 3, at).to(kd))
      torch.index_copy_(kept_v, 0, commits, torch.gather(cand_v, 3, at).to(kd))
      torch.index_copy_(pool[lp + self.p_routed_score], 0, commits, torch.gather(cand_score, 2, pick))
      torch.index_copy_(kept_bias, 0, commits, torch.gather(cand_bias, 2, pick).view(c, G, 1, 1, K))
      torch.index_fill_(pool[lp + self.p_win_sel], 0, commits, 0.0)

  def to_layout(self: __torch__.DecodeStep, packed: Tensor, place: Tensor, B: int, t_rows: int, dense: bool) -> Tensor:
    # packed rows [m, X, dh] -> [B, T, X, dh], each row at its slot's place, zero padding
    if dense:
      return packed.reshape(B, t_rows, packed.size(1), packed.size(2))
    out = torch.zeros([B * t_rows, packed.size(1), packed.size(2)], dtype=packed.dtype, device=packed.device)
    torch.index_copy_(out, 0, place, packed)
    return out.view(B, t_rows, packed.size(1), packed.size(2))

  def rotary(self: __torch__.DecodeStep, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    # RoPE, rotate-halves form: x*cos + rotate_half(x)*sin, with rotate_half's sign in the sine
    # table (DecodeWeights), so rotate_half is a roll. x [N, X, dh], cos/sin [N, 1, dh]
    return torch.add(torch.mul(x, cos), torch.mul(torch.roll(x, [self.dim_head // 2], [-1]), sin))

  def from_layout(self: __torch__.DecodeStep, laid: Tensor, place: Tensor, dense: bool) -> Tensor:
    # [B*T, ...] in the attention layout -> the packed rows [m, ...]
    if dense:
      return laid
    return torch.index_select(laid, 0, place)

  def unit(self: __torch__.DecodeStep, x: Tensor) -> Tensor:
    # F.normalize: x / max(|x|_2, 1e-12) along the last axis
    return torch.div(x, torch.clamp_min(torch.linalg_vector_norm(x, 2, [-1], True), 1e-12))

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
    rope = torch.index_select(wts[self.w_rope], 0, pos)                                 # [N, 2, dh]
    cos = rope[:, 0:1].unsqueeze(0)                                           # [1, N, 1, dh]
    sin = rope[:, 1:2].unsqueeze(0)
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
    rope = torch.index_select(wts[self.w_rope], 0, pos)
    cos = rope[:, 0:1].unsqueeze(0)
    sin = rope[:, 1:2].unsqueeze(0)
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
    cd = wts[lw + self.w_local_in].dtype
    mix = self.local_full(wts, lw, x, cos, sin, local_bias)
    if x.size(1) > self.window:
      mix = torch.add(mix, self.routed_full(wts, lw, x, cos, sin, real))
    h = torch.add(x, mix)
    ff = torch.gelu(torch.linear(self.unit(h).to(cd), wts[lw + self.w_ff1], wts[lw + self.w_ff1_bias]).float())
    return torch.add(h, torch.linear(ff.to(cd), wts[lw + self.w_ff2], wts[lw + self.w_ff2_bias]).float())

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
    cd = wts[lw + self.w_local_in].dtype
    ln = torch.layer_norm(x, [self.dim], wts[lw + self.w_ln_weight], wts[lw + self.w_ln_bias], 1e-5)
    qkv = torch.linear(ln.to(cd), wts[lw + self.w_local_in]).float()                         # [B, N, 3I]
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
    return torch.linear(out.to(cd), wts[lw + self.w_local_out]).float()                      # [B, N, D]

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
    cd = wts[lw + self.w_local_in].dtype
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
    kv = torch.linear(u[:, 0:ctx].to(cd), wts[lw + self.w_routed_kv]).float().view(B, ctx, G, 2, H, dh)
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
    qs = self.rotary(torch.linear(u.to(cd), wts[lw + self.w_routed_q]).float().view(B, N, G * H, dh), cos, sin)
    qs = torch.constant_pad_nd(qs, [0, 0, 0, 0, 0, pad], 0.0).view(B, nw, w, G, H, dh)[:, 1:]
    qs = qs.permute([0, 3, 1, 4, 2, 5]).reshape(B * G * nq, H, w, dh)
    att = torch.scaled_dot_product_attention(qs, keys, values, bias, 0.0, False, scale=1.0)   # [B*G*nq, H, w, dh]
    att = att.view(B, G, nq, H, w, dh).permute([0, 2, 4, 1, 3, 5]).reshape(B, ctx, G, I)
    chosen = sel.permute([0, 1, 3, 2]).reshape(B, ctx, G)                     # [B, nq*w, G]
    out = torch.linear(torch.mul(att, chosen.unsqueeze(3)).reshape(B, ctx, G * I).to(cd), wts[lw + self.w_routed_out]).float()
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
    rope = torch.index_select(wts[self.w_rope], 0, pos)                                 # [n, 2, dh]
    cos = rope[:, 0:1].unsqueeze(0)                                           # [1, n, 1, dh]
    sin = rope[:, 1:2].unsqueeze(0)
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
      cd = wts[lw + self.w_local_in].dtype
      kd = pool[lp + self.p_k].dtype
      # local keys/values of the ring's positions
      ln = torch.layer_norm(x[0, first:], [D], wts[lw + self.w_ln_weight], wts[lw + self.w_ln_bias], 1e-5)
      qkv = torch.linear(ln.to(cd), wts[lw + self.w_local_in]).float()                       # [r, 3I]
      k = self.rotary(qkv[:, I:2 * I].reshape(n - first, H, dh), cos[0, first:], sin[0, first:])
      pool[lp + self.p_k][slots, :, ring_at] = k.to(kd)                               # [P, H, R, dh]
      pool[lp + self.p_v][slots, :, ring_at] = qkv[:, 2 * I:3 * I].reshape(n - first, H, dh).to(kd)
      # every expert's top-k_kv of all n positions
      u = self.unit(x[0])
      order = torch.sort(self.row_logits(x[0], wts[lw + self.w_kv_tokens]).transpose(0, 1), dim=-1, descending=True, stable=True)
      pick = order[1][:, 0:K]                                                  # [G, K]
      kv = torch.linear(u.to(cd), wts[lw + self.w_routed_kv]).float().view(n, G, 2, H, dh)
      keys = self.rotary(kv[:, :, 0], cos[0].unsqueeze(1), sin[0].unsqueeze(1))   # [n, G, H, dh]
      at = pick.reshape(G, K, 1, 1).expand(G, K, H, dh)
      pool[lp + self.p_routed_k][slot, :, :, 1:K + 1] = torch.gather(keys.transpose(0, 1), 1, at).transpose(1, 2).to(kd)   # [G, H, K, dh]
      pool[lp + self.p_routed_v][slot, :, :, 1:K + 1] = torch.gather(kv[:, :, 1].transpose(0, 1), 1, at).transpose(1, 2).to(kd)
      pool[lp + self.p_routed_bias][slot, :, :, :, 1:K + 1] = 0.0
      pool[lp + self.p_routed_score][slot, :, 0:K] = order[0][:, 0:K]
      x = self.full_layer(wts, lw, x, cos, sin, local_bias, real)
    return torch.zeros([0], device=ids.device)
