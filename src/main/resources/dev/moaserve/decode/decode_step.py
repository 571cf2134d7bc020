class DecodeStep(Module):
  # One exact incremental decode step of canonical MoA for a batch of B running sequences, as
  # one TorchScript call. This file is TorchScript source (the dialect libtorch compiles when it
  # loads an archive): the class and the step; the class's other methods are in the files beside
  # it, by job — step_sampler.py (the sampler, alone or in the step's call), whole_rows.py (the
  # full forward of whole rows: embeddings, a prompt's whole windows, a text's routing) and
  # step_echoes.py (what tests read back) — and ScriptedStep joins them into one archive at
  # startup, with the model's sizes as attributes. Weights and the state pool come in as tensor lists whose
  # slots are named by attributes (w_*, p_*: StepSlots); the pool is updated in place.
  #
  # Letters: B running slots, P pool slots, w routed window, W local window, R ring entries,
  # D dim, H heads, dh dim_head, I = H*dh, G experts, K kept routed keys/values (k_kv),
  # m rows computed at a layer, T = the most rows any slot computes at that layer.
  __parameters__ = []
  __buffers__ = []
  # @attributes: ScriptArchive writes their declarations here, from the values it is given
  # (the model's sizes, and the slots and integers named in StepSlots and SampleBatch.Meta)
  def step(self: __torch__.DecodeStep,
      wts: List[Tensor], pool: List[Tensor], flat: List[Tensor], f: Tensor, ids: Tensor, meta: List[int], rows_out: Tensor) -> Tensor:
    # flat: batch_views(pool, B), made once per pool and batch size
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
    # every operation is a fixed cost at one stream (docs/decoding.md): the arrays' sections are
    # cut by one split each, and what only some plans compute is computed where they need it
    fs, xs = self.sections(f, ids, meta)
    filled = fs[self.f_valid]                                                   # [B*w]
    valid = filled.view(B, w)
    qpos = fs[self.f_query_position]                                            # [B*w]
    flag = fs[self.f_routed_flag]                                               # [B]
    tokens = xs[self.i_tokens]                                                  # [n]
    win_rows = xs[self.i_window_rows]                                           # [n]
    positions = xs[self.i_positions]                                            # [n]
    ring_rows = xs[self.i_ring_rows]                                            # [n]
    last = xs[self.i_last_rows]                                                 # [S]

    # new tokens: embeddings into layer 0's window rows, positions into the ring
    emb = torch.add(torch.index_select(wts[self.w_token_emb], 0, tokens), torch.index_select(wts[self.w_pos_emb], 0, positions))
    torch.index_copy_(flat[self.flat_layer(0)], 0, win_rows, emb)
    torch.index_copy_(flat[0], 0, ring_rows, positions.float())
    ring_pos = flat[self.batch_view(-1, 0)]                                                  # [B, R]

    # what attention needs about a row set, computed once for every layer that uses it: the
    # host's fixed plan, and each sequence's last row (all the last layer goes on with)
    slot_last = torch.div(last, w, rounding_mode="floor")
    at_last = self.rows_info(last, slot_last, 1, B, qpos, ring_pos, flag, wts, S == B and last_is_plan)
    info = at_last
    if fixed_t > 0 and not last_is_plan:
      fixed_rows = xs[self.i_fixed_rows]                                        # [mf]
      fixed_places = xs[self.i_fixed_places]                                    # [mf]
      info = self.rows_info(fixed_rows, fixed_places, fixed_t, B, qpos, ring_pos, flag, wts, dense)

    changed = valid
    frozen = valid
    new_rows = valid
    if fixed_t == 0:
      changed = fs[self.f_new_rows].view(B, w)
      new_rows = torch.gt(changed, 0.0)                                        # [B, w]
    if any_frozen:
      frozen = torch.gt(fs[self.f_frozen], 0.5)                                 # [B] bool
    sel = valid                                                                # (each layer's, unless cached)
    if cached and self.routed_queries < w:
      # no earlier row can change: every expert routes every filled row, at every layer
      sel = valid.unsqueeze(1).expand(B, self.experts, w)                      # [B, G, w]
    # a cached step's routing is every filled row, the same at every layer: which experts its
    # rows take is one lookup (and the last rows', if the final layer goes on with them alone)
    choice: Optional[Tuple[Tensor, Tensor]] = None
    choice_last: Optional[Tuple[Tensor, Tensor]] = None
    if cached and any_routed:
      choice = self.filled_rows(filled, info[0], info[8])
      if not (fixed_t > 0 and last_is_plan):
        choice_last = self.filled_rows(filled, at_last[0], at_last[8])
    # a fixed plan computes the same rows at every layer: a layer's input is the output the layer
    # before it returned
    x_in: Optional[Tensor] = None
    counted = 0
    h_last = emb
    for l in range(self.depth):
      lw = self.w_first_layer + self.w_per_layer * l
      rows = info[0]                                                        # [m] rows this layer computes, b*w + t
      if cached:
        if keep_logits:
          self.keep_row_logits(flat[self.batch_view(l, 5)], flat[self.batch_view(l, 7)], rows, wts[lw + self.w_query_tokens])
        if self.routed_queries < w:
          # (where k_q >= w every step is cached, and nothing reads the selection)
          flat[self.batch_view(l, 6)].copy_(sel)
      elif frozen_only:
        # (select_new_rows writes its own rows' selection)
        sel = self.select_new_rows(flat[self.batch_view(l, 5)], flat[self.batch_view(l, 6)], flat[self.batch_view(l, 7)],
            rows, wts[lw + self.w_query_tokens])
      else:
        win_h = flat[self.batch_view(l, 5)]                                               # [B, w, D] layer inputs
        win_sel = flat[self.batch_view(l, 6)]                                             # [B, G, w]
        win_logit = flat[self.batch_view(l, 7)]                                           # [B, w, G]
        logit = self.scores(win_h, wts[lw + self.w_query_tokens])                                # [B, G, w]
        if keep_logits:
          win_logit.copy_(logit.transpose(1, 2))
        invalid = torch.mul(torch.sub(valid, 1.0), -self.neg).unsqueeze(1)     # [B, 1, w] 0 or NEG
        sel = self.select(logit, invalid, valid)
        if any_frozen:
          # a frozen row keeps the routing it had on arrival: its rank among the rows up to it
          sel = torch.where(frozen.view(B, 1, 1), self.select_arrival(logit, valid), sel)
        if fixed_t == 0:
          # lazy plan (never cached, never frozen only): a row's output can change if its input or
          # an earlier row's input changed (local attention carries it forward), or its own routing
          # changed at this layer
          sel_changed = torch.mul(torch.sum(torch.abs(torch.sub(sel, win_sel)), [1]), flag.unsqueeze(1))
          need = torch.logical_and(torch.gt(torch.add(torch.cumsum(changed, 1), sel_changed), 0.0), torch.gt(valid, 0.0))
          if any_frozen:
            need = torch.where(frozen.view(B, 1), new_rows, need)              # frozen: never revised
          changed = need.float()
          rows = torch.nonzero(need.view(-1)).view(-1)                         # [m] b*w + t
          rank = torch.sub(torch.cumsum(need.long(), 1), 1).view(-1)
          t_rows = int(torch.max(torch.sum(need.long(), [1])).item())
          place = torch.add(torch.mul(torch.div(rows, w, rounding_mode="floor"), t_rows), torch.index_select(rank, 0, rows))
          info = self.rows_info(rows, place, t_rows, B, qpos, ring_pos, flag, wts, False)
        win_sel.copy_(sel)
      counted += rows.size(0)
      final = l + 1 == self.depth
      out = self.layer(wts, pool, flat, l, info, at_last, B, sel, any_routed, final, fixed_t > 0 and last_is_plan, x_in,
          choice, choice_last)
      if final:
        h_last = out                                                           # [S, D]
      else:
        torch.index_copy_(flat[self.flat_layer(l + 1)], 0, rows, out)
        if fixed_t > 0:
          x_in = out
    rows_out.add_(counted)

    logits = self.mm(self.unit(h_last), wts[self.w_logits], wts[self.w_logits_bias])
    if c > 0:
      self.commit(wts, pool, xs[self.i_commits], qpos.view(B, w))               # [c] slots
    return logits                                                              # [S, V]

  def sections(self: __torch__.DecodeStep, f: Tensor, ids: Tensor, meta: List[int]) -> Tuple[List[Tensor], List[Tensor]]:
    # every section of the step's two arrays, one split each (views; a slice per section was an
    # operation each): f's by StepSlots.Floats (self.f_*), ids' by StepSlots.Ids (self.i_*). The
    # bounds start at 0, so each array's inner and final bounds cut it; a last part past the
    # final bound is never read
    return (torch.tensor_split(f, meta[self.m_float_bounds + 1:self.m_id_bounds]),
        torch.tensor_split(ids, meta[self.m_id_bounds + 1:self.m_plan_integers]))

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

  def rows_info(self: __torch__.DecodeStep, rows: Tensor, place: Tensor, t_rows: int, B: int,
      qpos: Tensor, ring_pos: Tensor, flag: Tensor, wts: List[Tensor], dense: bool) -> Tuple[Tensor, Tensor, int, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, bool, Tensor, Tensor]:
    # rows [m] window rows b*w + t (ascending) of qpos [B*w]; place [m] their index b*T + i in the [B, T]
    # attention layout -> (rows, place, T, slot [m], cos, sin [m, 1, 1, dh], ring entry [m],
    #                      local mask [B, 1, T, R], window>=1 flag [m, 1], dense: place is
    #                      0..m-1, so the layout is a view of the packed rows,
    #                      cos, sin [m, 3, 1, dh] of q, k and v: v's are 1 and 0)
    R = self.ring
    slot = torch.div(rows, self.window, rounding_mode="floor")
    pos = torch.index_select(qpos, 0, rows)                                    # [m] float
    at = pos.long()
    rope = torch.index_select(wts[self.w_rope_qkv], 0, at)                    # [m, 2, 3, 1, dh]
    cos3 = torch.select(rope, 1, 0)
    sin3 = torch.select(rope, 1, 1)
    q_pos = pos
    if not dense:
      q_pos = pos.new_full([B * t_rows], -1.0e9)
      torch.index_copy_(q_pos, 0, place, pos)
    diff = torch.sub(q_pos.view(B, t_rows, 1), ring_pos.view(B, 1, R))        # [B, T, R]
    hidden = torch.logical_or(torch.lt(diff, 0.0), torch.gt(diff, float(self.local_window)))
    local_bias = torch.where(hidden, self.neg, 0.0).unsqueeze(1)             # [B, 1, T, R]
    row_flag = torch.index_select(flag, 0, slot).unsqueeze(1)
    return (rows, place, t_rows, slot, torch.narrow(cos3, 1, 0, 1), torch.narrow(sin3, 1, 0, 1), torch.remainder(at, R),
        local_bias, row_flag, dense, cos3, sin3)

  def layer(self: __torch__.DecodeStep, wts: List[Tensor], pool: List[Tensor], flat: List[Tensor], l: int,
      info: Tuple[Tensor, Tensor, int, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, bool, Tensor, Tensor],
      at_last: Tuple[Tensor, Tensor, int, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, bool, Tensor, Tensor],
      B: int, sel: Tensor, any_routed: bool, final: bool, rows_are_last: bool,
      x_in: Optional[Tensor], choice: Optional[Tuple[Tensor, Tensor]], choice_last: Optional[Tuple[Tensor, Tensor]]) -> Tensor:
    # one layer on the rows of `info`: their outputs [m, D]; the final layer writes the rows'
    # keys/values, then goes on with each sequence's last row only (`at_last`): [S, D].
    # x_in: the rows' inputs when the caller has them; choice, choice_last: what info's and
    # at_last's rows take of the experts (chosen_rows) when the caller has it.
    lw = self.w_first_layer + self.w_per_layer * l
    lp = self.p_first_layer + self.p_per_layer * l
    H = self.heads
    dh = self.dim_head
    I = self.inner
    rows, place, t_rows, slot, cos, sin, ring_at, local_bias, row_flag, dense, cos3, sin3 = info
    m = rows.size(0)
    if x_in is None:
      x = torch.index_select(flat[self.flat_layer(l)], 0, rows)               # [m, D]
    else:
      x = x_in

    # local attention over the ring: the W final positions before the window, and the window
    ln = torch.layer_norm(x, [self.dim], wts[lw + self.w_ln_weight], wts[lw + self.w_ln_bias], 1e-5)
    qkv = self.mm(ln, wts[lw + self.w_local_in], None).view(m, 3, H, dh)      # q, k, v
    q, k, v = torch.unbind(self.rotary(qkv, cos3, sin3), 1)                   # [m, H, dh] each (v: as it was)
    pool[lp + self.p_k][slot, :, ring_at] = self.kv_in(k, pool[lp + self.p_k])   # [P, H, R, dh]
    pool[lp + self.p_v][slot, :, ring_at] = self.kv_in(v, pool[lp + self.p_v])
    if final and not rows_are_last:
      # the last layer's outputs only feed the logits: only each sequence's last row goes on
      at = torch.searchsorted(rows, at_last[0])
      x = torch.index_select(x, 0, at)
      q = torch.index_select(q, 0, at)
      info = at_last
      rows, place, t_rows, slot, cos, sin, ring_at, local_bias, row_flag, dense, cos3, sin3 = at_last
      choice = choice_last
    one = dense and t_rows == 1                                                # a row per slot: layouts are views
    if one:
      qb = q.unsqueeze(2)                                                      # [B, H, 1, dh]
    else:
      qb = self.to_layout(q, place, B, t_rows, dense).transpose(1, 2)          # [B, H, T, dh]
    att = self.attend(qb, self.kv_out(flat[self.batch_view(l, 0)]), self.kv_out(flat[self.batch_view(l, 1)]), local_bias, one)
    if one:
      local = att.reshape(B, I)
    else:
      local = self.from_layout(att.transpose(1, 2).reshape(B * t_rows, I), place, dense)   # [m, I]
    h = self.mm_add(local, wts[lw + self.w_local_out], x)                     # [m, D] x + local

    if any_routed:
      if choice is None:
        picked = self.chosen_rows(sel, rows, row_flag)
      else:
        picked = choice
      h = self.routed(wts, flat, l, x, info, B, picked, h)
    ff = torch.gelu(self.mm(self.unit(h), wts[lw + self.w_ff1], wts[lw + self.w_ff1_bias]))
    return torch.add(h, self.mm(ff, wts[lw + self.w_ff2], wts[lw + self.w_ff2_bias]))   # [m, D]

  def chosen_rows(self: __torch__.DecodeStep, sel: Tensor, rows: Tensor, row_flag: Tensor) -> Tuple[Tensor, Tensor]:
    # what rows [m] take of each expert's attention ([m, G, 1]: their selection, in windows >= 1)
    # and of its null token ([m, G]), from the window's selection sel [B, G, w]
    chosen = torch.mul(torch.index_select(sel.transpose(1, 2).reshape(-1, self.experts), 0, rows), row_flag)   # [m, G]
    return (chosen.unsqueeze(2), torch.sub(row_flag, chosen))

  def filled_rows(self: __torch__.DecodeStep, filled: Tensor, rows: Tensor, row_flag: Tensor) -> Tuple[Tensor, Tensor]:
    # chosen_rows where every expert selects every filled row (a cached step), from filled [B*w]
    chosen = torch.mul(torch.index_select(filled, 0, rows).unsqueeze(1), row_flag)   # [m, 1]
    return (chosen.unsqueeze(2), torch.sub(row_flag, chosen).expand(rows.size(0), self.experts))

  def routed(self: __torch__.DecodeStep, wts: List[Tensor], flat: List[Tensor], l: int, x: Tensor,
      info: Tuple[Tensor, Tensor, int, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, bool, Tensor, Tensor],
      B: int, picked: Tuple[Tensor, Tensor], r: Tensor) -> Tensor:
    # r [m, D] plus every expert's attention of the rows over its null key/value and kept top-K
    # of the past; rows an expert did not select (in windows >= 1) take its null token
    lw = self.w_first_layer + self.w_per_layer * l
    rows, place, t_rows, slot, cos, sin, ring_at, local_bias, row_flag, dense, cos3, sin3 = info
    m = rows.size(0)
    H = self.heads
    dh = self.dim_head
    I = self.inner
    G = self.experts
    chosen, null_share = picked
    qs = self.mm(self.unit(x), wts[lw + self.w_routed_q], None).view(m, G, H, dh)
    q = self.rotary(qs, cos, sin)                                                      # [m, G, H, dh]
    one = dense and t_rows == 1
    if one:
      qb = q.view(B * G, H, 1, dh)
    else:
      qb = self.to_layout(q.view(m, G * H, dh), place, B, t_rows, dense).view(B, t_rows, G, H, dh)
      qb = qb.permute([0, 2, 3, 1, 4]).reshape(B * G, H, t_rows, dh)
    keys = self.kv_out(flat[self.batch_view(l, 2)])                           # [B*G, H, K1, dh]
    values = self.kv_out(flat[self.batch_view(l, 3)])
    bias = flat[self.batch_view(l, 4)]                                         # [B*G, 1, 1, K1]
    att = self.attend(qb, keys, values, bias, one)                             # [B*G, H, T, dh]
    if one:
      per_row = att.reshape(B, G, I)
    else:
      att = att.view(B, G, H, t_rows, dh).permute([0, 3, 1, 2, 4]).reshape(B * t_rows, G, I)
      per_row = self.from_layout(att, place, dense)                           # [m, G, I]
    with_null = torch.addmm(r, null_share, wts[lw + self.w_null_tokens])
    return self.mm_add(torch.mul(per_row, chosen).reshape(m, G * I), wts[lw + self.w_routed_out], with_null)   # [m, D]

  def attend(self: __torch__.DecodeStep, q: Tensor, k: Tensor, v: Tensor, bias: Tensor, one: bool) -> Tensor:
    # softmax(q k^T + bias) v for q [N, H, T, dh] over k, v [N, H, R, dh], bias broadcast to
    # [N, H, T, R]. One position per row (T = 1) of many rows as two batched matmuls: libtorch's
    # CPU flash attention runs a gemm per (row, head) and key block (ScriptedStep.MATMUL_ATTENTION_FROM)
    if one and q.size(0) >= self.matmul_attention_from:
      s = torch.matmul(q, k.transpose(2, 3))                                   # [N, H, 1, R]
      return torch.matmul(torch.softmax(s.add_(bias), -1), v)                  # [N, H, 1, dh]
    return torch.scaled_dot_product_attention(q, k, v, bias, 0.0, False, scale=1.0)

  def flat_views(self: __torch__.DecodeStep, pool: List[Tensor]) -> List[Tensor]:
    # views of the state a step reads or writes by flat row, made once per pool rather than a
    # reshape per step: the ring's positions [P*R], then per layer (from flat_layer(l)) its
    # inputs [P*w, D], routed keys and values [P*G, H, 1+K, dh] and routed bias [P*G, 1, 1, 1+K]
    out: List[Tensor] = [pool[self.p_ring_pos].view(-1)]
    for l in range(self.depth):
      lp = self.p_first_layer + self.p_per_layer * l
      K1 = self.routed_kv + 1
      out.append(pool[lp + self.p_win_h].view(-1, self.dim))
      out.append(pool[lp + self.p_routed_k].view(-1, self.heads, K1, self.dim_head))
      out.append(pool[lp + self.p_routed_v].view(-1, self.heads, K1, self.dim_head))
      out.append(pool[lp + self.p_routed_bias].view(-1, 1, 1, K1))
    return out

  def flat_layer(self: __torch__.DecodeStep, l: int) -> int:
    # where layer l's views start in flat_views
    return 1 + 4 * l

  def batch_views(self: __torch__.DecodeStep, pool: List[Tensor], B: int) -> List[Tensor]:
    # the step's `flat` argument for a batch of B leading slots: flat_views(pool), then what a
    # step reads of the batch's state as slices (batch_view), made once per pool and batch size
    # rather than ~5 slices per layer per step: the ring's positions [B, R], then per layer its
    # keys and values [B, H, R, dh], routed keys and values [B*G, H, 1+K, dh], routed bias
    # [B*G, 1, 1, 1+K], inputs [B, w, D], selection [B, G, w] and arrival logits [B, w, G]
    out = self.flat_views(pool)
    out.append(pool[self.p_ring_pos][0:B])
    BG = B * self.experts
    for l in range(self.depth):
      lp = self.p_first_layer + self.p_per_layer * l
      fl = self.flat_layer(l)
      out.append(pool[lp + self.p_k][0:B])
      out.append(pool[lp + self.p_v][0:B])
      out.append(out[fl + 1][0:BG])
      out.append(out[fl + 2][0:BG])
      out.append(out[fl + 3][0:BG])
      out.append(pool[lp + self.p_win_h][0:B])
      out.append(pool[lp + self.p_win_sel][0:B])
      out.append(pool[lp + self.p_win_logit][0:B])
    return out

  def batch_view(self: __torch__.DecodeStep, l: int, j: int) -> int:
    # where batch_views put view j of layer l (l = -1: the ring's positions)
    return 1 + 4 * self.depth + (0 if l < 0 else 1 + 8 * l + j)

  def mm(self: __torch__.DecodeStep, x: Tensor, w: Tensor, b: Optional[Tensor]) -> Tensor:
    # x @ w^T + b: in the weights' dtype, float32 out; in float32 no casts (each is a dispatch).
    # w in parts (3-d: split_matmuls) for a step of few rows of a model whose weights outgrow the caches
    if self.mixed:
      return torch.linear(x.to(w.dtype), w, b).float()
    if w.dim() == 3:
      return self.parts_mm(x, w, b)
    return torch.linear(x, w, b)

  def mm_add(self: __torch__.DecodeStep, x: Tensor, w: Tensor, r: Tensor) -> Tensor:
    # r + x @ w^T, r [m, D] float32 (the residual stream): in float32 one call, r as the bias
    if self.mixed:
      return torch.add(r, torch.linear(x.to(w.dtype), w).float())
    if w.dim() == 3:
      return self.parts_mm(x, w, r.reshape(r.size(0), w.size(0), -1).transpose(0, 1))
    return torch.linear(x, w, r)

  def parts_mm(self: __torch__.DecodeStep, x: Tensor, w: Tensor, b: Optional[Tensor]) -> Tensor:
    # x [m, in] @ w^T (+ b) for w as P parts [P, in, n] of its output columns (split_matmuls) and
    # b None or broadcast to [P, m, n]: one batched gemm whose parts run on the intra-op threads,
    # where a gemv of few rows streams the whole weight through one core -> [m, P*n]
    xs = x.expand(w.size(0), x.size(0), x.size(1))                            # [P, m, in], no copy
    if b is None:
      y = torch.bmm(xs, w)
    else:
      y = torch.baddbmm(b, xs, w)                                              # [P, m, n]
    return y.transpose(0, 1).reshape(x.size(0), -1)

  def split_matmuls(self: __torch__.DecodeStep, wts: List[Tensor], matmul: List[int], parts: int) -> List[Tensor]:
    # the weights with every matmul's weight [out, in] as `parts` transposed views [P, in, out/P]
    # and its bias [out] as [P, 1, out/P] (indices `matmul`: StepSlots; no copies), where out
    # divides into the parts; the rest as given
    out: List[Tensor] = []
    for i in range(len(wts)):
      out.append(wts[i])
    for i in matmul:
      t = wts[i]
      if t.size(0) % parts == 0:
        if t.dim() == 2:
          out[i] = t.view(parts, -1, t.size(1)).transpose(1, 2)
        else:
          out[i] = t.view(parts, 1, -1)
    return out

  def kv_in(self: __torch__.DecodeStep, x: Tensor, state: Tensor) -> Tensor:
    # float32 keys/values in the state's dtype
    if self.mixed:
      return x.to(state.dtype)
    return x

  def kv_out(self: __torch__.DecodeStep, x: Tensor) -> Tensor:
    # the state's keys/values as float32 for attention
    if self.mixed:
      return x.float()
    return x

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
    # is the canonical rule and topk(S u new) = topk(topk(S) u new) holds exactly. Every layer at
    # once on the stacked state (L layers), only the matmuls per layer: at B = 64 some slot commits
    # at nearly every step, and a commit per layer was ~60 operations, 40% of the step's
    c = commits.size(0)
    L = self.depth
    H = self.heads
    dh = self.dim_head
    G = self.experts
    w = self.window
    K = self.routed_kv
    D = self.dim
    I = self.inner
    cos, sin = self.rope_at(wts, torch.index_select(qpos, 0, commits).reshape(-1).long())   # [c*w, 1, dh]
    hw = torch.index_select(self.stacked(pool, self.p_win_h), 1, commits)       # [L, c, w, D]
    u = self.unit(hw)
    routing_in = u if self.cosine_routing else hw
    scores: List[Tensor] = []
    kvs: List[Tensor] = []
    for l in range(L):
      lw = self.w_first_layer + self.w_per_layer * l
      scores.append(torch.matmul(routing_in[l], wts[lw + self.w_kv_tokens]))   # [c, w, G]
      kvs.append(self.mm(u[l].view(c * w, D), wts[lw + self.w_routed_kv], None))   # [c*w, G*2*H*dh]
    new_score = torch.stack(scores).transpose(2, 3)                            # [L, c, G, w]
    if self.cosine_routing:
      new_score = torch.mul(new_score, self.routing_scale)
    kv = torch.stack(kvs).view(L, c * w * G, 2, I)                            # rows (l, c, t, g)
    new_k = self.rotary(kv.select(2, 0).view(L, c * w, G, H, dh), cos.unsqueeze(1), sin.unsqueeze(1))   # rows (c, t): every g, h
    all_k = self.stacked(pool, self.p_routed_k)                                # [L, P, G, H, 1+K, dh]
    all_v = self.stacked(pool, self.p_routed_v)
    all_bias = self.stacked(pool, self.p_routed_bias)                          # [L, P, G, 1, 1, 1+K]
    all_score = self.stacked(pool, self.p_routed_score)                        # [L, P, G, K]
    cand_score = torch.cat([torch.index_select(all_score, 1, commits), new_score], 3)   # [L, c, G, K + w]
    order = torch.sort(cand_score, dim=-1, descending=True, stable=True)[1].narrow(3, 0, K)   # [L, c, G, K]
    # the kept keys/values as rows of H*dh, each slot's null entry (0) then the kept ones, and the
    # window's new rows after them: the new top-K is one index_select of whole rows (a gather of
    # each element by a broadcast index, and cats of permuted keys, were the commit's slowest calls)
    n_kept = L * c * G * (1 + K)
    lcg = torch.arange(L * c * G, dtype=order.dtype, device=order.device).view(L, c, G, 1)
    lc = torch.div(lcg, G, rounding_mode="floor")
    g = torch.remainder(lcg, G)
    kept_row = torch.add(torch.mul(lcg, 1 + K), torch.add(order, 1))
    new_row = torch.add(torch.mul(torch.add(torch.mul(lc, w), torch.sub(order, K)), G), torch.add(g, n_kept))
    rows = torch.cat([torch.mul(lcg, 1 + K), torch.where(torch.lt(order, K), kept_row, new_row)], 3).view(-1)   # [L*c*G*(1+K)]
    kept_k = self.kv_out(torch.index_select(all_k, 1, commits)).transpose(3, 4).reshape(n_kept, I)
    kept_v = self.kv_out(torch.index_select(all_v, 1, commits)).transpose(3, 4).reshape(n_kept, I)
    top_k = torch.index_select(torch.cat([kept_k, new_k.view(-1, I)], 0), 0, rows).view(L, c, G, 1 + K, H, dh)
    top_v = torch.index_select(torch.cat([kept_v, kv.select(2, 1).reshape(-1, I)], 0), 0, rows).view(L, c, G, 1 + K, H, dh)
    torch.index_copy_(all_k, 1, commits, self.kv_in(top_k.transpose(3, 4), all_k))
    torch.index_copy_(all_v, 1, commits, self.kv_in(top_v.transpose(3, 4), all_v))
    torch.index_copy_(all_score, 1, commits, torch.gather(cand_score, 3, order))
    # biases: an entry kept stays as it was, a new one is 0
    kept_bias = torch.index_select(all_bias, 1, commits).view(L, c, G, 1 + K)
    top_bias = torch.where(torch.lt(order, K), torch.gather(kept_bias, 3, torch.clamp_max(torch.add(order, 1), K)), 0.0)
    torch.index_copy_(torch.narrow(all_bias, 5, 1, K), 1, commits, top_bias.view(L, c, G, 1, 1, K))
    torch.index_fill_(self.stacked(pool, self.p_win_sel), 1, commits, 0.0)

  def stacked(self: __torch__.DecodeStep, pool: List[Tensor], slot: int) -> Tensor:
    # per-layer state `slot` (p_*) of every layer, [L, P, ...] (StatePool.programTensors): after
    # the model-wide and the per-layer slots; each layer's tensor is a view of its row
    return pool[self.p_first_layer + self.p_per_layer * self.depth + slot]

  def rope_at(self: __torch__.DecodeStep, wts: List[Tensor], positions: Tensor) -> Tuple[Tensor, Tensor]:
    # the rotary cos and sin [n, 1, dh] at positions [n] int64: the q entries of ROPE_QKV
    q = torch.select(torch.index_select(wts[self.w_rope_qkv], 0, positions), 2, 0)   # [n, 2, 1, dh]
    return (torch.select(q, 1, 0), torch.select(q, 1, 1))

  def to_layout(self: __torch__.DecodeStep, packed: Tensor, place: Tensor, B: int, t_rows: int, dense: bool) -> Tensor:
    # packed rows [m, X, dh] -> [B, T, X, dh], each row at its slot's place, zero padding
    if dense:
      return packed.reshape(B, t_rows, packed.size(1), packed.size(2))
    out = torch.zeros([B * t_rows, packed.size(1), packed.size(2)], dtype=packed.dtype, device=packed.device)
    torch.index_copy_(out, 0, place, packed)
    return out.view(B, t_rows, packed.size(1), packed.size(2))

  def rotary(self: __torch__.DecodeStep, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    # RoPE, rotate-halves form: x*cos + rotate_half(x)*sin, with rotate_half's sign in the sine
    # table (DecodeWeights), so rotate_half is a roll. x [N, ..., dh], cos/sin broadcast to it
    return torch.addcmul(torch.mul(x, cos), torch.roll(x, [self.dim_head // 2], [-1]), sin)

  def from_layout(self: __torch__.DecodeStep, laid: Tensor, place: Tensor, dense: bool) -> Tensor:
    # [B*T, ...] in the attention layout -> the packed rows [m, ...]
    if dense:
      return laid
    return torch.index_select(laid, 0, place)

  def unit(self: __torch__.DecodeStep, x: Tensor) -> Tensor:
    # F.normalize: x / max(|x|_2, 1e-12) along the last axis
    return torch.true_divide(x, torch.clamp_min_(torch.linalg_vector_norm(x, 2, [-1], True), 1e-12))
