package dev.moaserve.api.protocol;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.List;

/**
 * One API's answer format for one request. Streaming methods return the SSE {@code data} items
 * to send (JSON objects, or the literal {@code [DONE]}), in order; the writer sends them.
 */
public interface Renderer {
    /** When the stream opens, before any token. */
    List<Object> open();

    /** After {@code t} was added to choice {@code c}. */
    List<Object> token(ChoiceOutput c, TokenEvent t);

    /** Choice {@code c} ended normally (its finish is set). */
    List<Object> choiceEnd(ChoiceOutput c);

    /** Every choice ended. */
    List<Object> close();

    /** The stream ends on an error. */
    List<Object> error(ApiException e);

    /** The answer when not streaming, once every choice ended. */
    ObjectNode body();
}
