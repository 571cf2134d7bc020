package dev.moaserve.api;

import ai.djl.Device;
import dev.moaserve.engine.LoadedModel;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The settings {@link EarlyStart} reads before Quarkus exists are the ones Quarkus reads: the
 * start model's load spec built from each is the same, so the model loaded beside the boot is the
 * one the server takes (a setting read differently would cost a second load, silently).
 */
@QuarkusTest
class EarlyStartTest {
    @Inject
    ServingConfig config;

    @Test
    void readsTheStartModelsSettingsAsQuarkusDoes() {
        ServingConfig early = EarlyStart.readConfig("test");
        Device cpu = Device.cpu();
        LoadedModel.Spec quarkus = ModelService.spec(config, ServingSettings.of(config), ModelCatalogue.start(config), cpu);
        LoadedModel.Spec before = ModelService.spec(early, ServingSettings.of(early), ModelCatalogue.start(early), cpu);
        assertEquals(quarkus, before);
    }
}
