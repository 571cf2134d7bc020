package dev.moaserve;

import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;

/** The read-only inputs beside the repository ({@code ../shared}); tests skip if it is absent. */
public final class SharedData {
    private SharedData() {}

    public static Path root() {
        String override = System.getenv("MOA_SHARED_DIR");
        return Path.of(override != null ? override : "../shared").toAbsolutePath().normalize();
    }

    /** A path under ../shared, or skips the calling test with a clear message. */
    public static Path require(String relative) {
        Path p = root().resolve(relative);
        Assumptions.assumeTrue(Files.exists(p), "skipped: " + p + " not found (tests read ../shared beside the repo)");
        return p;
    }
}
