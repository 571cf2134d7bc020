package dev.moaserve.api;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;
import org.jboss.logging.Logger;

import java.util.concurrent.atomic.AtomicReference;

/**
 * Ready once the models loaded at start are loaded and warmed up; DOWN again as soon as draining
 * starts (models that load or unload later on demand do not change it).
 * (Started and liveness are UP as soon as Quarkus runs: a model that cannot load ends the process.)
 * Logs its transitions, once each (SmallRye Health's own line for every DOWN poll is silenced in
 * application.properties: a probe every few hundred milliseconds while the model loads).
 */
@Readiness
@ApplicationScoped
public class ReadinessCheck implements HealthCheck {
    private static final Logger LOG = Logger.getLogger(ReadinessCheck.class);

    @Inject
    ModelService service;

    private final AtomicReference<Boolean> last = new AtomicReference<>();

    @Override
    public HealthCheckResponse call() {
        boolean up = service.ready();
        Boolean was = last.getAndSet(up);
        if (was == null || was != up) {
            LOG.infof("readiness %s%s", up ? "UP" : "DOWN", up ? "" : ": " + service.notReadyReason());
        }
        var b = HealthCheckResponse.named("model").status(up);
        if (service.loaded() != null) {
            b.withData("model", service.name());
        }
        String loaded = String.join(",", service.models().stream().filter(m -> m.status == ModelSlot.Status.LOADED)
                .map(m -> m.name).toList());
        if (!loaded.isEmpty()) {
            b.withData("models_loaded", loaded);
        }
        if (service.generator() != null) {
            var scheduler = service.generator().scheduler();
            b.withData("running", scheduler.runningCount()).withData("waiting", scheduler.waitingCount());
        }
        return b.build();
    }
}
