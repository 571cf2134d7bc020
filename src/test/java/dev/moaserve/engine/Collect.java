package dev.moaserve.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** Test helper: submits a request (with n − 1 forks) to a scheduler and collects each choice's tokens. */
public final class Collect {
    /** A finished choice: its generated tokens, the prompt tokens it did not compute, and why it ended. */
    public record Result(List<Integer> tokens, int cached, FinishReason reason) {}

    private Collect() {}

    public static CompletableFuture<Result> one(Scheduler s, long[] prompt, SamplingParams p) {
        return choices(s, prompt, List.of(p)).get(0);
    }

    /** One request whose choice i samples with {@code params.get(i)}; the first is the leader, the rest its forks. */
    static List<CompletableFuture<Result>> choices(Scheduler s, long[] prompt, List<SamplingParams> params) {
        List<CompletableFuture<Result>> out = new ArrayList<>();
        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = 0; i < params.size(); i++) {
            CompletableFuture<Result> done = new CompletableFuture<>();
            List<Integer> tokens = new ArrayList<>();
            requests.add(new GenerationRequest("t" + i, prompt, params.get(i), new TokenListener() {
                @Override
                public void onToken(int token, String text, Sampler.Choice choice) {
                    if (token >= 0) {
                        tokens.add(token);
                    }
                }

                @Override
                public void onFinish(Finish finish) {
                    if (finish.error() != null) {
                        done.completeExceptionally(new AssertionError(finish.error()));
                    } else {
                        done.complete(new Result(tokens, finish.cachedTokens(), finish.reason()));
                    }
                }
            }));
            out.add(done);
        }
        s.submit(requests.get(0).withForks(requests.subList(1, requests.size())));
        return out;
    }
}
