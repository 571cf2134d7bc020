package dev.moaserve.model;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The build picks the libtorch CPU jar of its own platform, and the app knows which one it carries. */
class NativePlatformTest {
    @Test
    void javaPlatformNamesMapToDjlClassifiers() {
        assertEquals("linux-x86_64", NativePlatform.of("Linux", "amd64"));
        assertEquals("linux-aarch64", NativePlatform.of("Linux", "aarch64"));
        assertEquals("osx-aarch64", NativePlatform.of("Mac OS X", "aarch64"));
        assertEquals("osx-x86_64", NativePlatform.of("Mac OS X", "x86_64"));
        assertEquals("win-x86_64", NativePlatform.of("Windows 11", "amd64"));
        assertEquals("freebsd-x86_64", NativePlatform.of("FreeBSD", "amd64"));
    }

    /** The platform-* Maven profile that ran for this build chose this machine's jar. */
    @Test
    void theBuildSelectedThisMachinesLibtorch() {
        String selected = System.getProperty("test.native-classifier");
        assertNotNull(selected, "surefire passes the selected classifier as test.native-classifier");
        assertEquals(NativePlatform.current(), selected);
        assertTrue(NativePlatform.SUPPORTED.contains(selected), selected);
        assertEquals(selected, NativePlatform.carried(), "the pytorch-native-cpu jar on the class path");
        assertTrue(System.getProperty("java.class.path").contains("pytorch-native-cpu-2.7.1-" + selected + ".jar"),
                System.getProperty("java.class.path"));
        NativePlatform.check(); // does not throw here
    }

    @Test
    void aJarForAnotherPlatformIsOneClearLine() {
        assertEquals("no libtorch for osx-aarch64: this build carries libtorch for linux-x86_64; rebuild on this machine "
                + "(./mvnw package selects osx-aarch64) or set PYTORCH_LIBRARY_PATH to a libtorch 2.7.1",
                NativePlatform.problem("osx-aarch64", "linux-x86_64"));
        assertTrue(NativePlatform.problem("osx-x86_64", "linux-x86_64")
                .contains("DJL publishes libtorch 2.7.1 for linux-x86_64, linux-aarch64, osx-aarch64, win-x86_64 only"));
        assertTrue(NativePlatform.problem("linux-x86_64", null).contains("no CPU libtorch (a -Pcuda build)"));
        assertEquals(null, NativePlatform.problem("linux-x86_64", "linux-x86_64"));
    }
}
