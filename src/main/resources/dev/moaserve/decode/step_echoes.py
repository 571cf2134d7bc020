  # DecodeStep's echoes (joined into decode_step.py's class): the program's view of its inputs, read
  # back by tests to pin the slots and sections StepSlots names.
  def echo_sections(self: __torch__.DecodeStep, f: Tensor, ids: Tensor, meta: List[int]) -> List[Tensor]:
    # each section of a step's arrays as step() cuts it, by name, in StepSlots.Floats then Ids
    # order: what a test compares with what StepPlan wrote
    fs, xs = self.sections(f, ids, meta)
    return [fs[self.f_valid], fs[self.f_query_position], fs[self.f_new_rows], fs[self.f_routed_flag], fs[self.f_frozen],
            xs[self.i_tokens], xs[self.i_window_rows], xs[self.i_positions], xs[self.i_ring_rows], xs[self.i_commits],
            xs[self.i_last_rows], xs[self.i_fixed_rows], xs[self.i_fixed_places]]

  def echo_slots(self: __torch__.DecodeStep, wts: List[Tensor], pool: List[Tensor], l: int) -> List[Tensor]:
    # every named slot as the program reads it, model-wide then layer l's, weights then pool, in
    # StepSlots' order, then layer l's row of each stacked state (what a commit reads and writes):
    # what a test compares with the Java side's tensors
    lw = self.w_first_layer + self.w_per_layer * l
    lp = self.p_first_layer + self.p_per_layer * l
    return [wts[self.w_token_emb], wts[self.w_pos_emb], wts[self.w_rope_qkv], wts[self.w_logits], wts[self.w_logits_bias],
        wts[lw + self.w_ln_weight], wts[lw + self.w_ln_bias], wts[lw + self.w_local_in], wts[lw + self.w_local_out],
        wts[lw + self.w_query_tokens], wts[lw + self.w_kv_tokens], wts[lw + self.w_routed_q], wts[lw + self.w_routed_kv],
        wts[lw + self.w_routed_out], wts[lw + self.w_null_tokens], wts[lw + self.w_null_k], wts[lw + self.w_null_v],
        wts[lw + self.w_ff1], wts[lw + self.w_ff1_bias], wts[lw + self.w_ff2], wts[lw + self.w_ff2_bias],
        pool[self.p_ring_pos], pool[lp + self.p_k], pool[lp + self.p_v], pool[lp + self.p_win_h], pool[lp + self.p_win_sel],
        pool[lp + self.p_routed_k], pool[lp + self.p_routed_v], pool[lp + self.p_routed_bias], pool[lp + self.p_routed_score],
        pool[lp + self.p_win_logit],
        self.stacked(pool, self.p_k)[l], self.stacked(pool, self.p_v)[l], self.stacked(pool, self.p_win_h)[l],
        self.stacked(pool, self.p_win_sel)[l], self.stacked(pool, self.p_routed_k)[l], self.stacked(pool, self.p_routed_v)[l],
        self.stacked(pool, self.p_routed_bias)[l], self.stacked(pool, self.p_routed_score)[l],
        self.stacked(pool, self.p_win_logit)[l]]
