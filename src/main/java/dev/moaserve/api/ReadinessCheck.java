package dev.moaserve.api;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/**
 * Ready once the model is loaded and a warm-up step ran; DOWN again as soon as draining starts.
 * (Started and liveness are UP as soon as Quarkus runs: a model that cannot load ends the process.)
 */
@Readiness
@ApplicationScoped
public class ReadinessCheck implements HealthCheck {
    @Inject
    ModelService service;

    @Override
    public HealthCheckResponse call() {
        boolean up = service.ready();
        var b = HealthCheckResponse.named("model").status(up);
        if (service.loaded()) {
            b.withData("model", service.name());
        }
        if (service.scheduler() != null) {
            b.withData("running", service.scheduler().runningCount()).withData("waiting", service.scheduler().waitingCount());
        }
        return b.build();
    }
}
