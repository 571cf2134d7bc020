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
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/**
 * Prometheus metrics (at {@code /q/metrics} and {@code /metrics}). Names the autoscalers use:
 * {@code moa_queue_waiting}, {@code moa_sequences_running}.
 *
 * <p>Also under vLLM's names ({@code vllm:num_requests_waiting}, {@code vllm:kv_cache_usage_perc},
 * …): the Gateway API Inference Extension's endpoint picker (InferencePool; llm-d, KServe) routes on
 * its model-server protocol's queued requests, running requests and KV-cache utilisation and reads
 * vLLM's names by default, as do most KEDA and Grafana guides. Same types and semantics as vLLM's:
 * gauges for the current queue, batch and state-pool usage (a fraction, 0–1), histograms in seconds,
 * counters of tokens. Every meter of a model carries its {@code model_name} (as vLLM's do) and goes
 * when the model unloads ({@link ModelMeters}); {@code moa_requests_total{outcome}} counts the
 * server's requests, whatever their model.
 */
@ApplicationScoped
public class EngineMetrics {
    @Inject
    MeterRegistry registry;

    /** vLLM's prefix; Prometheus allows ':' in names (recording-rule style), which vLLM uses. */
    static final String VLLM = "vllm:";

    /** Requests are counted once a model is bound: the server's own warm-up requests come before. */
    private volatile boolean counting;

    /** The meters of the model to be served as {@code name} (nothing is recorded until {@link ModelMeters#bind}). */
    ModelMeters forModel(String name) {
        return new ModelMeters(name);
    }

    /** Counts a request by outcome: ok, stop, length, cancelled, error, rejected, invalid. */
    public void outcome(String outcome) {
        if (!counting) {
            return;
        }
        Counter.builder("moa.requests").tag("outcome", outcome).description("finished requests by outcome")
                .register(registry).increment();
    }

    /** One model's meters, tagged with its name: what its engine records, and gauges that read it. */
    final class ModelMeters implements EngineStats {
        private final String name;
        private final Tags tags;
        private final List<Meter> meters = new ArrayList<>();
        private DistributionSummary batchSize;
        private List<Timer> ttft;
        private List<Timer> itl;
        private List<Timer> e2e;
        private List<Counter> promptTokens;
        private List<Counter> generatedTokens;

        ModelMeters(String name) {
            this.name = name;
            this.tags = Tags.of("model_name", name);
        }

        /** Gauges and counters that read the loaded model's engine, embedder and constraints; recording starts. */
        void bind(LoadedModel model) {
            if (model instanceof LoadedModel.Generator g) {
                bindEngine(g.scheduler(), g.constraints());
            }
            gauge("moa.embeddings.waiting", model.embedder(), Embedder::waitingCount, "embedding requests waiting for the worker");
            keep(Gauge.builder("moa.model.info", () -> 1).tags(tags).tags("device", model.deviceName(),
                            "dtype", model.dtype().name().toLowerCase(Locale.ROOT))
                    .description("a loaded model, the device it runs on and its matmul precision (always 1)").register(registry));
            gauge("moa.model.bytes", model, LoadedModel::footprintBytes, "bytes the model accounts for (weights, state pool, caches at their bounds)");
            timers();
            counting = true;
        }

        /** The model unloads: its meters go (and the references they hold to its engine). */
        void unbind() {
            batchSize = null;
            ttft = itl = e2e = null;
            meters.forEach(registry::remove);
            meters.clear();
        }

        private <T> void gauge(String meter, T source, ToDoubleFunction<T> value, String description) {
            keep(Gauge.builder(meter, source, value).tags(tags).description(description).register(registry));
        }

        private <T> void counter(String meter, T source, ToDoubleFunction<T> total, String description) {
            keep(FunctionCounter.builder(meter, source, since(source, total)).tags(tags).description(description).register(registry));
        }

        private <M extends Meter> M keep(M meter) {
            meters.add(meter);
            return meter;
        }

        /** The scheduler's and structured output's gauges (a generating model only). */
        private void bindEngine(Scheduler scheduler, Constraints constraints) {
            gauge("moa.queue.waiting", scheduler, Scheduler::waitingCount, "requests waiting for a decode slot");
            gauge("moa.sequences.running", scheduler, Scheduler::runningCount, "sequences in the running batch");
            keep(Gauge.builder("moa.state.bytes", scheduler, Scheduler::stateBytes).tags(tags)
                    .description("decode-state bytes held by running sequences").baseUnit("bytes").register(registry));
            PrefixCache cache = scheduler.prefixCache();
            counter("moa.prefix.cache.queries", cache, PrefixCache::queries, "prompts looked up in the prefix-state cache");
            counter("moa.prefix.cache.hits", cache, PrefixCache::hits, "prompts that started from a cached prefix state");
            counter("moa.prefix.cache.hit.tokens", cache, PrefixCache::hitTokens, "prompt tokens not computed thanks to the prefix-state cache");
            keep(Gauge.builder("moa.prefix.cache.bytes", cache, PrefixCache::bytes).tags(tags)
                    .description("decode-state bytes held by prefix-cache snapshots").baseUnit("bytes").register(registry));
            gauge("moa.state.pool.usage", scheduler, Scheduler::stateUsage, "share of the decode-state pool held by running sequences (0-1)");
            gauge(VLLM + "num_requests_waiting", scheduler, Scheduler::waitingCount, "requests waiting to be processed (vLLM's name)");
            gauge(VLLM + "num_requests_running", scheduler, Scheduler::runningCount, "requests in the running batch (vLLM's name)");
            gauge(VLLM + "kv_cache_usage_perc", scheduler, Scheduler::stateUsage, "decode-state pool usage, 1 = full (vLLM's name for KV-cache usage)");
            counter("moa.structured.output.compiles", constraints, Constraints::misses, "structured-output constraints compiled (cache misses)");
            counter("moa.structured.output.cache.hits", constraints, Constraints::hits, "structured-output requests whose constraint was already compiled");
            keep(FunctionCounter.builder("moa.structured.output.compile.seconds", constraints, since(constraints, Constraints::compileSeconds))
                    .tags(tags).description("time spent compiling structured-output constraints").baseUnit("seconds").register(registry));
        }

        private void timers() {
            batchSize = keep(DistributionSummary.builder("moa.batch.size").tags(tags).description("sequences per decode step")
                    .serviceLevelObjectives(1, 2, 4, 8, 16, 32, 64, 128).register(registry));
            ttft = List.of(timer("moa.time.to.first.token", "time from request arrival to its first token"),
                    timer(VLLM + "time_to_first_token_seconds", "time to first token (vLLM's name)"));
            itl = List.of(timer("moa.inter.token.latency", "time between consecutive tokens of a request"),
                    timer(VLLM + "inter_token_latency_seconds", "inter-token latency (vLLM's name)"));
            e2e = List.of(timer("moa.request.duration", "time from arrival to the end of a request"),
                    timer(VLLM + "e2e_request_latency_seconds", "end-to-end request latency (vLLM's name)"));
            promptTokens = List.of(keep(Counter.builder("moa.prompt.tokens").tags(tags).description("prompt tokens processed").register(registry)),
                    keep(Counter.builder(VLLM + "prompt_tokens").tags(tags).description("prefill tokens processed (vLLM's name)").register(registry)));
            generatedTokens = List.of(keep(Counter.builder("moa.generated.tokens").tags(tags).description("tokens generated").register(registry)),
                    keep(Counter.builder(VLLM + "generation_tokens").tags(tags).description("generation tokens processed (vLLM's name)")
                            .register(registry)));
        }

        private Timer timer(String meter, String description) {
            return keep(Timer.builder(meter).tags(tags).description(description).publishPercentileHistogram()
                    .minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofSeconds(120)).register(registry));
        }

        @Override
        public void ended(String outcome) {
            outcome(outcome);
        }

        @Override
        public void batch(int sequences) {
            DistributionSummary b = batchSize;
            if (b != null) {
                b.record(sequences);
            }
        }

        @Override
        public void firstToken(double seconds) {
            record(ttft, seconds);
        }

        @Override
        public void interToken(double seconds) {
            record(itl, seconds);
        }

        private static void record(List<Timer> timers, double seconds) {
            if (timers != null) {
                timers.forEach(t -> t.record(Duration.ofNanos((long) (seconds * 1e9))));
            }
        }

        @Override
        public void finished(String reason, int prompt, int completion, double seconds) {
            List<Timer> t = e2e;
            if (t != null) {
                record(t, seconds);
                promptTokens.forEach(c -> c.increment(prompt));
                generatedTokens.forEach(c -> c.increment(completion));
            }
            outcome(reason);
        }
    }

    /** A counter's value from now on (what the server's own warm-up counted is left out). */
    private static <T> ToDoubleFunction<T> since(T source, ToDoubleFunction<T> total) {
        double base = total.applyAsDouble(source);
        return s -> total.applyAsDouble(s) - base;
    }
}
