package dev.moaserve.api.protocol;

import dev.moaserve.model.ChatTemplate;
import dev.moaserve.model.DecodeMode;
import dev.moaserve.model.Tokenizer;

import java.util.Set;

/** What parsing and rendering a request needs to know of the model being served. */
public interface ServedModel {
    /** The model's id in requests and responses. */
    String name();

    Tokenizer tokenizer();

    /** Prompt plus completion tokens at most. */
    int contextLength();

    ChatTemplate chatTemplate();

    /** The decode mode of requests that do not ask for one. */
    DecodeMode decodeDefault();

    /** The modes a request may ask for ({@code moa.decode-allow}). */
    Set<DecodeMode> decodeAllowed();

    /** Requests may ask for the routing ({@code moa.routing-visible}). */
    boolean routingVisible();

    /** Admission orders waiting requests by their {@code priority} ({@code moa.scheduling-policy=priority}). */
    boolean priorityScheduling();

    /** Most prompts one completions request may carry ({@code moa.max-prompts-per-request}). */
    default int maxPromptsPerRequest() {
        return 32;
    }
}
