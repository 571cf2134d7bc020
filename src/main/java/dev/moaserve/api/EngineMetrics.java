package dev.moaserve.api;

import dev.moaserve.engine.EngineStats;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.time.Duration;

/**
 * Prometheus metrics (at {@code /q/metrics}). Names the autoscalers use:
 * {@code moa_queue_waiting}, {@code moa_sequences_running}.
 */
@ApplicationScoped
public class EngineMetrics implements EngineStats {
    @Inject
    MeterRegistry registry;

    private DistributionSummary batchSize;
    private Timer ttft;
    private Timer itl;
    private Timer e2e;
    private Counter promptTokens;
    private Counter generatedTokens;

    void bind(ModelService service) {
        Gauge.builder("moa.queue.waiting", service, s -> s.scheduler().waitingCount())
                .description("requests waiting for a decode slot").register(registry);
        Gauge.builder("moa.sequences.running", service, s -> s.scheduler().runningCount())
                .description("sequences in the running batch").register(registry);
        Gauge.builder("moa.state.bytes", service, s -> s.scheduler().stateBytes())
                .description("decode-state bytes held by running sequences").baseUnit("bytes").register(registry);
        FunctionCounter.builder("moa.prefix.cache.queries", service, s -> s.scheduler().prefixCache().queries())
                .description("prompts looked up in the prefix-state cache").register(registry);
        FunctionCounter.builder("moa.prefix.cache.hits", service, s -> s.scheduler().prefixCache().hits())
                .description("prompts that started from a cached prefix state").register(registry);
        FunctionCounter.builder("moa.prefix.cache.hit.tokens", service, s -> s.scheduler().prefixCache().hitTokens())
                .description("prompt tokens not computed thanks to the prefix-state cache").register(registry);
        Gauge.builder("moa.prefix.cache.bytes", service, s -> s.scheduler().prefixCache().bytes())
                .description("decode-state bytes held by prefix-cache snapshots").baseUnit("bytes").register(registry);
        batchSize = DistributionSummary.builder("moa.batch.size").description("sequences per decode step")
                .serviceLevelObjectives(1, 2, 4, 8, 16, 32, 64, 128).register(registry);
        ttft = timer("moa.time.to.first.token", "time from request arrival to its first token");
        itl = timer("moa.inter.token.latency", "time between consecutive tokens of a request");
        e2e = timer("moa.request.duration", "time from arrival to the end of a request");
        promptTokens = Counter.builder("moa.prompt.tokens").description("prompt tokens processed").register(registry);
        generatedTokens = Counter.builder("moa.generated.tokens").description("tokens generated").register(registry);
    }

    private Timer timer(String name, String description) {
        return Timer.builder(name).description(description).publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofSeconds(120)).register(registry);
    }

    /** Counts a request by outcome: ok, stop, length, cancelled, error, rejected. */
    public void outcome(String outcome) {
        Counter.builder("moa.requests").tag("outcome", outcome).description("finished requests by outcome")
                .register(registry).increment();
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
            ttft.record(Duration.ofNanos((long) (seconds * 1e9)));
        }
    }

    @Override
    public void interToken(double seconds) {
        if (itl != null) {
            itl.record(Duration.ofNanos((long) (seconds * 1e9)));
        }
    }

    @Override
    public void finished(String reason, int prompt, int completion, double seconds) {
        if (e2e != null) {
            e2e.record(Duration.ofNanos((long) (seconds * 1e9)));
            promptTokens.increment(prompt);
            generatedTokens.increment(completion);
        }
        outcome(reason);
    }
}
