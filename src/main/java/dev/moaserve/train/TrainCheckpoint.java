package dev.moaserve.train;

import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.Safetensors;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.UncheckedIOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Everything a training run needs to continue exactly where it stopped ({@code train --resume}):
 * the parameters and AdamW's moments ({@code state.safetensors}, float32), and the step, the
 * random generators' states, the best validation loss so far, the loss curve, the elapsed time
 * and the run's configuration ({@code state.json}). Written at every validation, replacing the
 * previous one only once complete, so a run killed at any moment resumes from its last
 * validation; a resumed run computes the same steps as one that never stopped.
 */
final class TrainCheckpoint {
    static final String DIR = "checkpoint";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The run's counters and generators at a step. */
    record Progress(int step, int adamSteps, double best, int bestStep, double emaLoss, double seconds,
                    List<Trainer.Point> curve, Random batches, Random validation) {}

    final TrainConfig config;
    final Progress progress;
    private final Safetensors tensors;

    private TrainCheckpoint(TrainConfig config, Progress progress, Safetensors tensors) {
        this.config = config;
        this.progress = progress;
        this.tensors = tensors;
    }

    /** Writes {@code out/checkpoint/} for the run's state after {@code p.step()}. */
    static void save(Path out, TrainConfig cfg, Progress p, Map<String, NDArray> params, AdamW opt) throws IOException {
        Path tmp = out.resolve(DIR + ".tmp");
        Files.createDirectories(tmp);
        List<Safetensors.Tensor> all = new ArrayList<>();
        int i = 0;
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            long[] shape = e.getValue().getShape().getShape();
            all.add(Safetensors.Tensor.f32("param." + e.getKey(), shape, e.getValue().toFloatArray()));
            all.add(Safetensors.Tensor.f32("adam.m." + e.getKey(), shape, opt.m(i).toFloatArray()));
            all.add(Safetensors.Tensor.f32("adam.v." + e.getKey(), shape, opt.v(i).toFloatArray()));
            i++;
        }
        Safetensors.write(tmp.resolve("state.safetensors"), all, Map.of());
        ObjectNode s = JSON.createObjectNode();
        s.set("model", cfg.model().toJson());
        ObjectNode t = s.putObject("train");
        t.put("steps", cfg.steps()).put("batch", cfg.batch()).put("lr", cfg.lr()).put("min_lr", cfg.minLr())
                .put("warmup", cfg.warmup()).put("weight_decay", cfg.weightDecay()).put("clip", cfg.clip())
                .put("eval_every", cfg.evalEvery()).put("eval_batches", cfg.evalBatches()).put("seed", cfg.seed())
                .put("dropout", cfg.dropout());
        s.put("step", p.step()).put("adam_steps", p.adamSteps()).put("best", p.best()).put("best_step", p.bestStep())
                .put("ema_loss", p.emaLoss()).put("seconds", p.seconds())
                .put("batches_rng", serialize(p.batches())).put("validation_rng", serialize(p.validation()));
        ArrayNode curve = s.putArray("curve");
        for (Trainer.Point c : p.curve()) {
            curve.addArray().add(c.step()).add(c.trainLoss()).add(c.validation()).add(c.seconds());
        }
        Files.writeString(tmp.resolve("state.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(s) + "\n");
        Path dir = out.resolve(DIR);
        Path old = out.resolve(DIR + ".old");
        deleteTree(old);
        if (Files.exists(dir)) {
            Files.move(dir, old, StandardCopyOption.ATOMIC_MOVE);
        }
        Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
        deleteTree(old);
    }

    /** The checkpoint in {@code out/checkpoint/}; a clear error if there is none. */
    static TrainCheckpoint load(Path out) throws IOException {
        Path dir = out.resolve(DIR);
        if (!Files.isRegularFile(dir.resolve("state.json")) || !Files.isRegularFile(dir.resolve("state.safetensors"))) {
            throw new IllegalArgumentException("--resume: no checkpoint in " + dir + " (a run writes one at every validation)");
        }
        JsonNode s = JSON.readTree(Files.readString(dir.resolve("state.json")));
        JsonNode t = s.get("train");
        ModelConfig model = ModelConfig.parse(JSON.writeValueAsBytes(s.get("model")), dir.resolve("state.json").toString());
        TrainConfig cfg = new TrainConfig(model, t.get("steps").asInt(), t.get("batch").asInt(), (float) t.get("lr").asDouble(),
                (float) t.get("min_lr").asDouble(), t.get("warmup").asInt(), (float) t.get("weight_decay").asDouble(),
                (float) t.get("clip").asDouble(), t.get("eval_every").asInt(), t.get("eval_batches").asInt(),
                t.get("seed").asLong(), (float) t.path("dropout").asDouble(0));
        List<Trainer.Point> curve = new ArrayList<>();
        for (JsonNode c : s.get("curve")) {
            curve.add(new Trainer.Point(c.get(0).asInt(), c.get(1).asDouble(), c.get(2).asDouble(), c.get(3).asDouble()));
        }
        Progress p = new Progress(s.get("step").asInt(), s.get("adam_steps").asInt(), s.get("best").asDouble(),
                s.get("best_step").asInt(), s.get("ema_loss").asDouble(), s.get("seconds").asDouble(), curve,
                deserialize(s.get("batches_rng").asText()), deserialize(s.get("validation_rng").asText()));
        return new TrainCheckpoint(cfg, p, Safetensors.open(dir.resolve("state.safetensors")));
    }

    /** Copies the saved parameters and moments into a run's tensors (same names and shapes). */
    void restore(Map<String, NDArray> params, AdamW opt) {
        int i = 0;
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            copy(tensors.floats("param." + e.getKey()), e.getValue());
            copy(tensors.floats("adam.m." + e.getKey()), opt.m(i));
            copy(tensors.floats("adam.v." + e.getKey()), opt.v(i));
            i++;
        }
        opt.steps(progress.adamSteps());
    }

    private static void copy(FloatBuffer from, NDArray to) {
        float[] data = new float[from.remaining()];
        from.get(data);
        to.set(data);
    }

    private static String serialize(Random r) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (ObjectOutputStream o = new ObjectOutputStream(b)) {
            o.writeObject(r);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Base64.getEncoder().encodeToString(b.toByteArray());
    }

    private static Random deserialize(String s) throws IOException {
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(Base64.getDecoder().decode(s)))) {
            return (Random) in.readObject();
        } catch (ClassNotFoundException e) {
            throw new IOException("checkpoint: unreadable generator state", e);
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (var files = Files.walk(p)) {
            for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(f);
            }
        }
    }
}
