package dev.moaserve.engine;

/** Receives a request's output, called on the engine loop's thread; must not block. */
public interface TokenListener {
    /** The scheduler admitted the request into its running batch. */
    default void onStart() {}

    /**
     * One generated token.
     *
     * @param text the text that became final with this token (stop-string look-ahead may hold
     *             some back, so it can be empty)
     */
    void onToken(int token, String text, Sampler.Choice choice);

    /** Generation ended; no further calls. */
    void onFinish(Finish finish);

    /**
     * Why and how a request ended; {@code cachedTokens}: prompt tokens not computed for this
     * request (taken from the prefix cache or forked from an n > 1 sibling); {@code stopString}:
     * the stop string that ended it (null for any other end).
     */
    record Finish(FinishReason reason, int promptTokens, int completionTokens, String text, String error, int cachedTokens,
                  String stopString) {
        public Finish(FinishReason reason, int promptTokens, int completionTokens, String text, String error) {
            this(reason, promptTokens, completionTokens, text, error, 0, null);
        }
    }
}
