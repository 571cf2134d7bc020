package dev.moaserve.api.protocol;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.List;

/** One generation API: how its requests are validated and its answers rendered. */
public interface Protocol {
    /** Completions, chat (OpenAI) and TGI's generate. */
    Protocol COMPLETIONS = new CompletionsProtocol();
    Protocol CHAT = new ChatProtocol();
    Protocol TGI = new TgiProtocol();
    /** Anthropic's Messages API. */
    Protocol MESSAGES = new MessagesProtocol();

    /** OpenAI's Responses API over {@code store}, where its routes keep the responses it answered. */
    static Protocol responses(ResponseStore store) {
        return new ResponsesProtocol(store);
    }

    /** The request log's name for it: {@code completions}, {@code chat}, {@code tgi}, {@code responses}. */
    String name();

    /** Response ids start with this. */
    String idPrefix();

    ErrorShape errors();

    /**
     * Validates a request body: strict (unknown or unimplemented fields are 400s naming them).
     *
     * @param stream the route streams (TGI's {@code /generate_stream}); OpenAI's routes read {@code stream} from the body
     */
    GenerationSpec parse(JsonNode body, ServedModel model, boolean stream);

    Renderer renderer(Reply reply);

    /**
     * A request that may carry several prompts (completions: a list of strings or of token-id
     * lists): one spec per prompt, in order, all with the same options. One prompt elsewhere.
     */
    default List<GenerationSpec> parseAll(JsonNode body, ServedModel model, boolean stream) {
        return List.of(parse(body, model, stream));
    }

    /** The answer is complete and sent (Responses: kept in its store). */
    default void answered(Reply reply) {}

    /** A stream's events carry an {@code event:} line naming their {@code type} (Anthropic's and the Responses API's clients read it). */
    default boolean namedEvents() {
        return false;
    }

    /** The prompt's length in tokens as this API renders {@code body} ({@code count_tokens}); 400 where it has no such route. */
    default int countTokens(JsonNode body, ServedModel model) {
        throw ApiException.invalid(null, "this API does not count tokens");
    }

    /** The OpenTelemetry GenAI operation its spans are named for: {@code chat} or {@code text_completion}. */
    default String operation() {
        return "text_completion";
    }
}
