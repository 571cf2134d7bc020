package dev.moaserve.api;

import dev.moaserve.model.ModelLocation;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The models a server may serve, by name, read from the settings before anything loads: the one
 * loaded at start ({@code moa.model-path}, named {@code moa.served-model-name} or by itself), then
 * {@code moa.models}: {@code name=path} entries and directories of model directories. A name
 * given twice, or an entry that names nothing, stops startup with one line.
 */
final class ModelCatalogue {
    /** One servable model: its name in requests, where its files are ({@code path} as {@link ModelLocation#of} reads it). */
    record Entry(String name, Optional<String> path) {}

    private ModelCatalogue() {}

    /** Every entry in order, the start model first. */
    static List<Entry> of(ServingConfig config) {
        Map<String, Entry> entries = new LinkedHashMap<>();
        Entry start = start(config);
        entries.put(start.name(), start);
        for (String item : config.models().orElse(List.of())) {
            String s = item.trim();
            if (s.isEmpty()) {
                continue;
            }
            for (Entry e : parse(s)) {
                if (entries.putIfAbsent(e.name(), e) != null) {
                    throw new IllegalStateException("moa.models: the name '" + e.name() + "' is given twice");
                }
            }
        }
        return List.copyOf(entries.values());
    }

    /** The model loaded at start: {@code moa.model-path}, named {@code moa.served-model-name} or by itself. */
    static Entry start(ServingConfig config) {
        return new Entry(config.servedModelName().orElseGet(() -> ModelLocation.of(config.modelPath()).name()), config.modelPath());
    }

    /** {@code name=path}, or a directory: itself when it holds config.json, else each sub-directory that does. */
    private static List<Entry> parse(String item) {
        int eq = item.indexOf('=');
        if (eq > 0) {
            String name = item.substring(0, eq).trim();
            String path = item.substring(eq + 1).trim();
            if (name.isEmpty() || path.isEmpty()) {
                throw new IllegalStateException("moa.models: '" + item + "' must be name=path");
            }
            return List.of(new Entry(name, Optional.of(path)));
        }
        Path dir = Path.of(item);
        if (!Files.isDirectory(dir)) {
            throw new IllegalStateException("moa.models: '" + item + "' is neither name=path nor a directory");
        }
        if (Files.isRegularFile(dir.resolve("config.json"))) {
            return List.of(new Entry(ModelLocation.of(Optional.of(item)).name(), Optional.of(item)));
        }
        List<Entry> found = new ArrayList<>();
        try (Stream<Path> children = Files.list(dir)) {
            children.filter(p -> Files.isRegularFile(p.resolve("config.json"))).sorted()
                    .forEach(p -> found.add(new Entry(p.getFileName().toString(), Optional.of(p.toString()))));
        } catch (IOException e) {
            throw new IllegalStateException("moa.models: cannot list '" + item + "': " + e.getMessage(), e);
        }
        if (found.isEmpty()) {
            throw new IllegalStateException("moa.models: '" + item + "' holds no model directory (none with a config.json)");
        }
        return found;
    }
}
