package dev.moaserve.api.protocol;

import dev.moaserve.engine.SamplingParams;
import dev.moaserve.engine.constraint.TokenConstraint;
import dev.moaserve.model.DecodeMode;

/**
 * A validated generation request of any API, as the engine will run it.
 *
 * @param promptText   the prompt as text (what echo / return_full_text put before the completion)
 * @param includeUsage a streamed OpenAI answer ends with a usage chunk
 * @param chatLogprobs chat: per-token logprobs asked for
 * @param echo         the answer's text starts with the prompt
 * @param n            choices sampled from the one prompt
 * @param constraint   structured output asked for, not compiled yet (null: none)
 * @param routingStart return_routing: the routing from this token position on (−1: not asked)
 */
public record GenerationSpec(String promptText, long[] prompt, SamplingParams params, boolean stream, boolean includeUsage,
                             boolean chatLogprobs, boolean echo, int n, ConstraintRequests.Requested constraint,
                             DecodeMode decode, int routingStart) {
    /** The same request with its constraint compiled into the sampling parameters. */
    public GenerationSpec constrained(TokenConstraint c) {
        return new GenerationSpec(promptText, prompt, params.withConstraint(c), stream, includeUsage, chatLogprobs, echo, n,
                constraint, decode, routingStart);
    }

    /** The answer carries each choice's routing ({@code return_routing}). */
    public boolean returnsRouting() {
        return routingStart >= 0;
    }
}
