package dev.moaserve.engine;

/**
 * The stages of a request's life in the engine ({@link RequestPipeline}), in the order it can pass
 * them; a request skips the stages it does not need (vLLM's request status, with its off-loop
 * stages named).
 */
public enum RequestState {
    /** Its structured-output constraint compiles on the compilation pool. */
    COMPILING_CONSTRAINT("while its constraint compiled"),
    /** Its prompt's log-probabilities are computed (echo with logprobs) on the prompt scorer. */
    SCORING_PROMPT("while its prompt was scored"),
    /** Accepted by the scheduler: waits for a decode slot. */
    WAITING("while it waited for a decode slot"),
    /** In the running batch: its prompt is fed, then one token per step. */
    RUNNING("while it ran"),
    /** Its choices' routing is computed on the routing worker (return_routing). */
    TRACING_ROUTING("while its routing was traced"),
    /** Ended: every choice complete, or the request failed, timed out or was cancelled. */
    FINISHED("after it finished");

    private final String during;

    RequestState(String during) {
        this.during = during;
    }

    /** How error messages name the stage: "while its prompt was scored". */
    public String during() {
        return during;
    }
}
