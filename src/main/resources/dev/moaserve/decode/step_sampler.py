  # DecodeStep's sampler (joined into decode_step.py's class): step_sample runs the step and the
  # sampler in one call; sample runs the sampler alone on logits [N, V]. Rows are named by
  # SampleBatch.Meta (s_*).
  def step_sample(self: __torch__.DecodeStep,
      wts: List[Tensor], pool: List[Tensor], flat: List[Tensor], f: Tensor, ids: Tensor, meta: List[int], rows_out: Tensor,
      sf: Tensor, si: Tensor, smeta: List[int]) -> Tensor:
    # the step, then the batched sampler on its logits: only sampled tokens leave the call
    return self.sample(self.step(wts, pool, flat, f, ids, meta, rows_out), sf, si, smeta)

  def sample(self: __torch__.DecodeStep, logits: Tensor, sf: Tensor, si: Tensor, smeta: List[int]) -> Tensor:
    # Picks the next token of S rows of logits [N, V]: penalties and logit bias, the
    # structured-output mask, greedy or temperature -> top-k -> top-p -> min-p -> a draw with
    # each row's own uniform (drawn on the host from its seeded generator, so a seeded request
    # samples the same alone or in any batch). Candidates by partial selection (topk over at
    # most k tokens), never a full sort of the vocabulary.
    # smeta by name (SampleBatch.Meta): rows S, penalised entries p, candidates k, logprobs L,
    #       any sampled (0/1), masked (0/1), in order (0/1: si's first S are 0..S-1)
    # sf float: per row [S, 6] temperature, top-k, top-p, min-p, uniform, greedy
    #           | per entry a [p], b [p], c [p]: l' = (l > 0 ? l*a : l*b) - c | mask [S, V]
    # si int64: rows of `logits` to sample [S] | entries' row [p] | entries' token [p]
    # -> [S, 2 + 2L]: token, its log-probability, the L most likely tokens, their log-probabilities
    S = smeta[self.s_rows]
    p = smeta[self.s_penalised]
    k = smeta[self.s_candidates]
    L = smeta[self.s_logprobs]
    if smeta[self.s_in_order] == 1:
      model = logits if S == logits.size(0) else logits[0:S]                  # [S, V]
    else:
      model = torch.index_select(logits, 0, si[0:S])
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
