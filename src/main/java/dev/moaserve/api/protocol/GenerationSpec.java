package dev.moaserve.api.protocol;

import dev.moaserve.engine.PromptScorer;
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
 * @param scorePrompt  completions' echo with logprobs: the prompt's tokens come back with their log-probabilities
 * @param promptScores those log-probabilities once computed (null before)
 * @param priority     its place in the queue when the batch is full: lower first (0 unless asked)
 * @param tools        chat's tool calling (null: no tools)
 * @param conversation the Responses API's conversation and echoed fields (null on other routes)
 */
public record GenerationSpec(String promptText, long[] prompt, SamplingParams params, boolean stream, boolean includeUsage,
                             boolean chatLogprobs, boolean echo, int n, ConstraintRequests.Requested constraint,
                             DecodeMode decode, int routingStart, boolean scorePrompt, PromptScorer.Scores promptScores,
                             int priority, ToolCalls tools, ResponsesProtocol.Conversation conversation) {
    /** The same request with its constraint compiled into the sampling parameters. */
    public GenerationSpec constrained(TokenConstraint c) {
        return new GenerationSpec(promptText, prompt, params.withConstraint(c), stream, includeUsage, chatLogprobs, echo, n,
                constraint, decode, routingStart, scorePrompt, promptScores, priority, tools, conversation);
    }

    /** The same request calling tools, constrained as its tool choice requires (or as it asked, when the model is free). */
    public GenerationSpec withTools(ToolCalls t, ConstraintRequests.Requested c) {
        return new GenerationSpec(promptText, prompt, params, stream, includeUsage, chatLogprobs, echo, n,
                c, decode, routingStart, scorePrompt, promptScores, priority, t, conversation);
    }

    /** The same request with its prompt's log-probabilities. */
    public GenerationSpec scored(PromptScorer.Scores s) {
        return new GenerationSpec(promptText, prompt, params, stream, includeUsage, chatLogprobs, echo, n,
                constraint, decode, routingStart, scorePrompt, s, priority, tools, conversation);
    }

    /** The same request as a turn of a Responses conversation. */
    GenerationSpec conversing(ResponsesProtocol.Conversation c) {
        return new GenerationSpec(promptText, prompt, params, stream, includeUsage, chatLogprobs, echo, n,
                constraint, decode, routingStart, scorePrompt, promptScores, priority, tools, c);
    }

    /** The answer carries each choice's routing ({@code return_routing}). */
    public boolean returnsRouting() {
        return routingStart >= 0;
    }
}
