package dev.moaserve.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Where a model's files are and what it is, read before anything is loaded: a directory, or one of
 * the shipped models named by its name ({@code moa-shakespeare}, {@code moa-shakespeare-encoder})
 * where no such directory exists; an empty path is the shipped generator.
 *
 * @param name    the model's own name (the directory's, or the shipped model's)
 * @param encoder a {@code moa_encoder} (embeddings only), else an autoregressive MoA model
 */
public record ModelLocation(String name, ModelSource source, Optional<Path> dir, boolean encoder) {
    /** The shipped generator's name. */
    public static final String EMBEDDED_GENERATOR = "moa-shakespeare";

    public static ModelLocation of(Optional<String> path) {
        String where = path.filter(p -> !p.isBlank()).orElse(null);
        if (where == null || where.equals(EMBEDDED_GENERATOR) && !Files.isDirectory(Path.of(where))) {
            return new ModelLocation(EMBEDDED_GENERATOR, ModelSource.classpath(MoaModel.EMBEDDED), Optional.empty(), false);
        }
        if (EncoderModel.namesEmbedded(where)) {
            return new ModelLocation(EncoderModel.EMBEDDED_NAME, ModelSource.classpath(EncoderModel.EMBEDDED), Optional.empty(), true);
        }
        Path dir = Path.of(where);
        return new ModelLocation(MoaModel.nameOf(dir), ModelSource.directory(dir), Optional.of(dir), EncoderModel.isEncoder(dir));
    }

    /** The model's config.json, as bytes (a {@link ModelException} when it cannot be read). */
    public byte[] config() {
        try {
            byte[] cfg = source.read("config.json");
            if (cfg == null) {
                throw new ModelException(source.describe() + "/config.json: missing");
            }
            return cfg;
        } catch (IOException e) {
            throw new ModelException(source.describe() + ": cannot read config.json: " + e.getMessage(), e);
        }
    }

    public String describe() {
        return source.describe();
    }
}
