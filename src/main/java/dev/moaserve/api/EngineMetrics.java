package dev.moaserve.api;

import dev.moaserve.engine.Embedder;
import dev.moaserve.engine.EngineStats;
import dev.moaserve.engine.LoadedModel;
import dev.moaserve.engine.PrefixCache;
import dev.moaserve.engine.Scheduler;
import dev.moaserve.engine.constraint.Constraints;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.time.Duration;
import java.util.List;

/**
 * Prometheus metrics (at {@code /q/metrics} and {@code /metrics}). Names the autoscalers use:
 * {@code moa_queue_waiting}, {@code moa_sequences_running}.
 *
 * <p>Also under vLLM's names ({@code vllm:num_requests_waiting}, {@code vllm:kv_cache_usage_perc},
 * …): the Gateway API Inference Extension's endpoint picker (InferencePool; llm-d, KServe) routes on
 * its model-server protocol's queued requests, running requests and KV-cache utilisation and reads
 * vLLM's names by default, as do most KEDA and Grafana guides. Same types and semantics as vLLM's:
 * gauges for the current queue, batch and state-pool usage (a fraction, 0–1), histograms in seconds,
 * counters of tokens.
 */
@ApplicationScoped
public class EngineMetrics implements EngineStats {
    @Inject
    MeterRegistry registry;

    private DistributionSummary batchSize;
    private List<Timer> ttft;
    private List<Timer> itl;
    private List<Timer> e2e;
    private List<Counter> promptTokens;
    private List<Counter> generatedTokens;
    /** Requests are counted from {@link #bind} on: the server's own warm-up requests come before it. */
    private volatile boolean counting;

    /** Gauges and counters that read the loaded model's engine, embedder and constraints. */
    void bind(LoadedModel model) {
        if (model instanceof LoadedModel.Generator g) {
            bindEngine(g.name(), g.scheduler(), g.constraints());
        }
        Gauge.builder("moa.embeddings.waiting", model.embedder(), Embedder::waitingCount)
                .description("embedding requests waiting for the worker").register(registry);
        Gauge.builder("moa.model.info", () -> 1).tags("model_name", model.name(), "device", model.deviceName(),
                        "dtype", model.dtype().name().toLowerCase(java.util.Locale.ROOT))
                .description("the served model, the device it runs on and its matmul precision (always 1)").register(registry);
        timers();
        counting = true;
    }

    /** The scheduler's and structured output's gauges (a generating model only). */
    private void bindEngine(String name, Scheduler scheduler, Constraints constraints) {
        Gauge.builder("moa.queue.waiting", scheduler, Scheduler::waitingCount)
                .description("requests waiting for a decode slot").register(registry);
        Gauge.builder("moa.sequences.running", scheduler, Scheduler::runningCount)
                .description("sequences in the running batch").register(registry);
        Gauge.builder("moa.state.bytes", scheduler, Scheduler::stateBytes)
                .description("decode-state bytes held by running sequences").baseUnit("bytes").register(registry);
        PrefixCache cache = scheduler.prefixCache();
        FunctionCounter.builder("moa.prefix.cache.queries", cache, since(cache, PrefixCache::queries))
                .description("prompts looked up in the prefix-state cache").register(registry);
        FunctionCounter.builder("moa.prefix.cache.hits", cache, since(cache, PrefixCache::hits))
                .description("prompts that started from a cached prefix state").register(registry);
        FunctionCounter.builder("moa.prefix.cache.hit.tokens", cache, since(cache, PrefixCache::hitTokens))
                .description("prompt tokens not computed thanks to the prefix-state cache").register(registry);
        Gauge.builder("moa.prefix.cache.bytes", cache, PrefixCache::bytes)
                .description("decode-state bytes held by prefix-cache snapshots").baseUnit("bytes").register(registry);
        Gauge.builder("moa.state.pool.usage", scheduler, Scheduler::stateUsage)
                .description("share of the decode-state pool held by running sequences (0-1)").register(registry);
        bindVllmNames(name, scheduler);
        FunctionCounter.builder("moa.structured.output.compiles", constraints, since(constraints, Constraints::misses))
                .description("structured-output constraints compiled (cache misses)").register(registry);
        FunctionCounter.builder("moa.structured.output.cache.hits", constraints, since(constraints, Constraints::hits))
                .description("structured-output requests whose constraint was already compiled").register(registry);
        FunctionCounter.builder("moa.structured.output.compile.seconds", constraints, since(constraints, Constraints::compileSeconds))
                .description("time spent compiling structured-output constraints").baseUnit("seconds").register(registry);
    }

    private void timers() {
        batchSize = DistributionSummary.builder("moa.batch.size").description("sequences per decode step")
                .serviceLevelObjectives(1, 2, 4, 8, 16, 32, 64, 128).register(registry);
        ttft = List.of(timer("moa.time.to.first.token", "time from request arrival to its first token"),
                timer(VLLM + "time_to_first_token_seconds", "time to first token (vLLM's name)"));
        itl = List.of(timer("moa.inter.token.latency", "time between consecutive tokens of a request"),
                timer(VLLM + "inter_token_latency_seconds", "inter-token latency (vLLM's name)"));
        e2e = List.of(timer("moa.request.duration", "time from arrival to the end of a request"),
                timer(VLLM + "e2e_request_latency_seconds", "end-to-end request latency (vLLM's name)"));
        promptTokens = List.of(Counter.builder("moa.prompt.tokens").description("prompt tokens processed").register(registry),
                Counter.builder(VLLM + "prompt_tokens").description("prefill tokens processed (vLLM's name)").register(registry));
        generatedTokens = List.of(Counter.builder("moa.generated.tokens").description("tokens generated").register(registry),
                Counter.builder(VLLM + "generation_tokens").description("generation tokens processed (vLLM's name)")
                        .register(registry));
    }

    /** A counter's value from now on (what the server's own warm-up counted is left out). */
    private static <T> java.util.function.ToDoubleFunction<T> since(T source, java.util.function.ToDoubleFunction<T> total) {
        double base = total.applyAsDouble(source);
        return s -> total.applyAsDouble(s) - base;
    }

    /** vLLM's prefix; Prometheus allows ':' in names (recording-rule style), which vLLM uses. */
    static final String VLLM = "vllm:";

    private void bindVllmNames(String name, Scheduler scheduler) {
        Tags model = Tags.of("model_name", name);
        Gauge.builder(VLLM + "num_requests_waiting", scheduler, Scheduler::waitingCount).tags(model)
                .description("requests waiting to be processed (vLLM's name)").register(registry);
        Gauge.builder(VLLM + "num_requests_running", scheduler, Scheduler::runningCount).tags(model)
                .description("requests in the running batch (vLLM's name)").register(registry);
        Gauge.builder(VLLM + "kv_cache_usage_perc", scheduler, Scheduler::stateUsage).tags(model)
                .description("decode-state pool usage, 1 = full (vLLM's name for KV-cache usage)").register(registry);
    }

    private Timer timer(String name, String description) {
        return Timer.builder(name).description(description).publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofSeconds(120)).register(registry);
    }

    /** Counts a request by outcome: ok, stop, length, cancelled, error, rejected. */
    public void outcome(String outcome) {
        if (!counting) {
            return;
        }
        Counter.builder("moa.requests").tag("outcome", outcome).description("finished requests by outcome")
                .register(registry).increment();
    }

    @Override
    public void ended(String outcome) {
        outcome(outcome);
    }

    @Override
    public void batch(int sequences) {
        if (batchSize != null) {
            batchSize.record(sequences);
        }
    }

    @Override
    public void firstToken(double seconds) {
        if (ttft != null) {
            ttft.forEach(t -> t.record(Duration.ofNanos((long) (seconds * 1e9))));
        }
    }

    @Override
    public void interToken(double seconds) {
        if (itl != null) {
            itl.forEach(t -> t.record(Duration.ofNanos((long) (seconds * 1e9))));
        }
    }

    @Override
    public void finished(String reason, int prompt, int completion, double seconds) {
        if (e2e != null) {
            e2e.forEach(t -> t.record(Duration.ofNanos((long) (seconds * 1e9))));
            promptTokens.forEach(c -> c.increment(prompt));
            generatedTokens.forEach(c -> c.increment(completion));
        }
        outcome(reason);
    }
}
