package dev.moaserve.model;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Locale;
import java.util.Properties;

/**
 * Which libtorch CPU build this machine needs and which one the application carries. DJL's
 * {@code pytorch-native-cpu} 2.7.1 is on Maven Central for {@link #SUPPORTED} only; the build
 * picks one per OS/arch (Maven profiles). Without this check a jar built for another platform
 * would make DJL try to download libtorch, which fails offline with a long trace.
 */
public final class NativePlatform {
    /** The classifiers of pytorch-native-cpu 2.7.1 on Maven Central. */
    public static final List<String> SUPPORTED = List.of("linux-x86_64", "linux-aarch64", "osx-aarch64", "win-x86_64");

    private NativePlatform() {}

    /** This machine as DJL names platforms, e.g. {@code linux-x86_64}, {@code osx-aarch64}. */
    public static String current() {
        return of(System.getProperty("os.name"), System.getProperty("os.arch"));
    }

    /** DJL's name of a platform from Java's {@code os.name} and {@code os.arch}. */
    static String of(String osName, String osArch) {
        String os = osName.toLowerCase(Locale.ROOT);
        String arch = osArch.toLowerCase(Locale.ROOT);
        String o = os.startsWith("mac") ? "osx" : os.startsWith("win") ? "win" : os.startsWith("linux") ? "linux" : os.replace(' ', '_');
        String a = arch.equals("amd64") || arch.equals("x86_64") ? "x86_64" : arch.equals("arm64") ? "aarch64" : arch;
        return o + "-" + a;
    }

    /** The classifier of the libtorch jar on the class path, or null if there is none. */
    public static String carried() {
        try (InputStream in = NativePlatform.class.getClassLoader().getResourceAsStream("native/lib/pytorch.properties")) {
            if (in == null) {
                return null;
            }
            Properties p = new Properties();
            p.load(in);
            return p.getProperty("classifier");
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * Throws a one-line {@link ModelException} when libtorch cannot be found for this machine:
     * neither {@code PYTORCH_LIBRARY_PATH} nor {@code PYTORCH_FLAVOR} set, and the carried build is
     * for another platform or missing.
     */
    public static void check() {
        for (String steer : List.of("PYTORCH_LIBRARY_PATH", "PYTORCH_FLAVOR")) {
            if (System.getenv(steer) != null || System.getProperty(steer) != null) {
                return; // the user chose a libtorch (their own, or DJL's CUDA download): DJL loads that
            }
        }
        String problem = problem(current(), carried());
        if (problem != null) {
            throw new ModelException(problem);
        }
    }

    /** What is wrong with running the {@code carried} libtorch build on {@code here}, or null. */
    static String problem(String here, String carried) {
        if (here.equals(carried)) {
            return null;
        }
        String what = carried == null ? "this build carries no CPU libtorch (a -Pcuda build)"
                : "this build carries libtorch for " + carried;
        String fix = carried == null ? "set PYTORCH_LIBRARY_PATH to a libtorch 2.7.1, or PYTORCH_FLAVOR (docs/deploy.md)"
                : SUPPORTED.contains(here)
                ? "rebuild on this machine (./mvnw package selects " + here + ") or set PYTORCH_LIBRARY_PATH to a libtorch 2.7.1"
                : "DJL publishes libtorch 2.7.1 for " + String.join(", ", SUPPORTED) + " only; set PYTORCH_LIBRARY_PATH to a libtorch 2.7.1 built for it";
        return "no libtorch for " + here + ": " + what + "; " + fix;
    }
}
