package dev.moaserve.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.quarkus.test.junit.QuarkusTest;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every manifest parses as Kubernetes objects and points at things the running app really has. */
@QuarkusTest
class KubernetesManifestsTest {
    private static final Path K8S = Path.of("k8s");
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    @Test
    void kustomizationsListExistingFiles() throws IOException {
        for (Path k : List.of(K8S.resolve("base"), K8S.resolve("overlays/cpu"), K8S.resolve("overlays/gpu"))) {
            JsonNode kust = YAML.readTree(k.resolve("kustomization.yaml").toFile());
            for (JsonNode r : kust.path("resources")) {
                assertTrue(Files.exists(k.resolve(r.asText())), k + ": " + r.asText());
            }
            for (JsonNode p : kust.path("patches")) {
                assertTrue(Files.exists(k.resolve(p.path("path").asText())), k + ": " + p);
            }
        }
    }

    @Test
    void probesAndPortsMatchTheApplication() throws IOException {
        Deployment d = load(K8S.resolve("base/deployment.yaml"), Deployment.class);
        Container c = d.getSpec().getTemplate().getSpec().getContainers().get(0);
        // the port the application is configured with (tests themselves run on a random port)
        java.util.Properties app = new java.util.Properties();
        try (InputStream in = Files.newInputStream(Path.of("src/main/resources/application.properties"))) {
            app.load(in);
        }
        int port = Integer.parseInt(app.getProperty("quarkus.http.port"));
        assertEquals(port, c.getPorts().get(0).getContainerPort());
        for (String path : List.of(c.getStartupProbe().getHttpGet().getPath(), c.getReadinessProbe().getHttpGet().getPath(),
                c.getLivenessProbe().getHttpGet().getPath())) {
            given().get(path).then().statusCode(200);
        }
        assertTrue(c.getSecurityContext().getReadOnlyRootFilesystem());
        assertTrue(d.getSpec().getTemplate().getSpec().getSecurityContext().getRunAsNonRoot());
        long grace = ConfigProvider.getConfig().getValue("moa.shutdown-grace", java.time.Duration.class).toSeconds();
        assertTrue(d.getSpec().getTemplate().getSpec().getTerminationGracePeriodSeconds() > grace,
                "terminationGracePeriodSeconds must exceed moa.shutdown-grace");
        HasMetadata gpu = load(K8S.resolve("overlays/gpu/gpu-patch.yaml"), Deployment.class);
        assertNotNull(gpu);
    }

    @Test
    void autoscalersUseMetricsTheServerExports() throws IOException {
        given().contentType("application/json").body("{\"prompt\":\"A\",\"max_tokens\":2}").post("/v1/completions");
        String metrics = given().get("/q/metrics").then().statusCode(200).extract().asString();
        HorizontalPodAutoscaler hpa = load(K8S.resolve("base/hpa.yaml"), HorizontalPodAutoscaler.class);
        List<String> names = new ArrayList<>();
        hpa.getSpec().getMetrics().forEach(m -> names.add(m.getPods().getMetric().getName()));
        GenericKubernetesResource keda = load(K8S.resolve("keda/scaledobject.yaml"), GenericKubernetesResource.class);
        assertEquals("ScaledObject", keda.getKind());
        Pattern metric = Pattern.compile("\\b(moa_[a-z_]+)\\b");
        for (Object t : (List<?>) ((java.util.Map<?, ?>) keda.getAdditionalProperties().get("spec")).get("triggers")) {
            String query = (String) ((java.util.Map<?, ?>) ((java.util.Map<?, ?>) t).get("metadata")).get("query");
            Matcher mm = metric.matcher(query);
            while (mm.find()) {
                names.add(mm.group(1));
            }
        }
        assertFalse(names.isEmpty());
        for (String n : names) {
            assertTrue(Pattern.compile("(?m)^" + n + "[ {]").matcher(metrics).find(), n + " is not in /q/metrics");
        }
        GenericKubernetesResource sm = load(K8S.resolve("base/servicemonitor.yaml"), GenericKubernetesResource.class);
        assertEquals("ServiceMonitor", sm.getKind());
    }

    private static <T> T load(Path p, Class<T> type) throws IOException {
        try (InputStream in = Files.newInputStream(p)) {
            return Serialization.unmarshal(in, type);
        }
    }
}
