package dev.moaserve.model;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/** Where a model's files come from: a directory on disk or a classpath folder. */
public interface ModelSource {
    /** Human-readable location, used in error messages. */
    String describe();

    /** The file's bytes, or null if it does not exist. */
    byte[] read(String file) throws IOException;

    /** Opens the model's safetensors file (memory-mapped when on disk). */
    Safetensors weights(String file) throws IOException;

    static ModelSource directory(Path dir) {
        return new ModelSource() {
            @Override
            public String describe() {
                return dir.toString();
            }

            @Override
            public byte[] read(String file) throws IOException {
                Path p = dir.resolve(file);
                return Files.isRegularFile(p) ? Files.readAllBytes(p) : null;
            }

            @Override
            public Safetensors weights(String file) {
                Path p = dir.resolve(file);
                if (!Files.isRegularFile(p)) {
                    throw new ModelException(p + ": missing model weights file");
                }
                return Safetensors.open(p);
            }
        };
    }

    static ModelSource classpath(String folder) {
        return new ModelSource() {
            @Override
            public String describe() {
                return "classpath:" + folder;
            }

            @Override
            public byte[] read(String file) throws IOException {
                try (InputStream in = ModelSource.class.getClassLoader().getResourceAsStream(folder + "/" + file)) {
                    return in == null ? null : in.readAllBytes();
                }
            }

            @Override
            public Safetensors weights(String file) throws IOException {
                byte[] bytes = read(file);
                if (bytes == null) {
                    throw new ModelException(describe() + "/" + file + ": missing model weights file");
                }
                return Safetensors.fromBytes(bytes, describe() + "/" + file);
            }
        };
    }
}
