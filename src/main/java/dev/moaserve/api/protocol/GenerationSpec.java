package dev.moaserve.api.protocol;

import dev.moaserve.engine.InferenceRequest;

/**
 * A validated generation request of any API: what the engine is asked to do, and how the answer
 * is written. A protocol's {@link Protocol#parse} makes it; the engine runs {@code request}; the
 * protocol's renderer reads {@code answer}.
 */
public record GenerationSpec(InferenceRequest request, AnswerOptions answer) {
    /**
     * How one API writes its answer.
     *
     * @param promptText      the prompt as text (what echo / return_full_text put before the completion)
     * @param stream          an SSE stream, else one JSON body
     * @param includeUsage    a streamed OpenAI answer ends with a usage chunk
     * @param chatLogprobs    chat: per-token logprobs asked for
     * @param echo            the answer's text starts with the prompt
     * @param constraintParam the request field its constraint came from, named in a compile error (null: none)
     * @param tools           chat's tool calling (null: no tools)
     * @param conversation    the Responses API's conversation and echoed fields (null on other routes)
     */
    public record AnswerOptions(String promptText, boolean stream, boolean includeUsage, boolean chatLogprobs, boolean echo,
                                String constraintParam, ToolCalls tools, ResponsesProtocol.Conversation conversation) {
        static AnswerOptions of(String promptText, boolean stream) {
            return new AnswerOptions(promptText, stream, false, false, false, null, null, null);
        }

        AnswerOptions withTools(ToolCalls t) {
            return new AnswerOptions(promptText, stream, includeUsage, chatLogprobs, echo, constraintParam, t, conversation);
        }

        AnswerOptions withConstraintParam(String param) {
            return new AnswerOptions(promptText, stream, includeUsage, chatLogprobs, echo, param, tools, conversation);
        }

        AnswerOptions conversing(ResponsesProtocol.Conversation c) {
            return new AnswerOptions(promptText, stream, includeUsage, chatLogprobs, echo, constraintParam, tools, c);
        }
    }

    /** The same request with structured output {@code c} (or none), its field named for errors. */
    GenerationSpec constrained(ConstraintRequests.Requested c) {
        return new GenerationSpec(request.toBuilder().constraint(c == null ? null : c.spec()).build(),
                answer.withConstraintParam(c == null ? null : c.param()));
    }

    /** The structured output asked for, with its field (null: none). */
    ConstraintRequests.Requested constraint() {
        return request.constraint().map(s -> new ConstraintRequests.Requested(s, answer.constraintParam())).orElse(null);
    }

    /** The answer's text: the completion, after the prompt when echo / return_full_text asked for it. */
    public String fullText(CharSequence completion) {
        return answer.echo() ? answer.promptText() + completion : completion.toString();
    }
}
