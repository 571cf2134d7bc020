package dev.moaserve.playground;

import dev.moaserve.api.ModelService;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The playground in a real headless Chromium: streams, stops, and shows API errors readably. */
@QuarkusTest
class PlaygroundBrowserTest {
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final Path DRIVER = Path.of("/usr/bin/chromedriver");

    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    @Inject
    ModelService service;

    private ChromeDriver browser;

    @BeforeEach
    void startBrowser() {
        browser = startChromium();
    }

    /** Debian's headless Chromium with the flags this closed network needs; skips where it is missing. */
    static ChromeDriver startChromium() {
        Assumptions.assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(DRIVER),
                "skipped: Debian's chromium and chromium-driver are not installed (.ci/run installs them)");
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=420,900");
        ChromeDriverService driver = new ChromeDriverService.Builder().usingDriverExecutable(DRIVER.toFile()).build();
        return new ChromeDriver(driver, options);
    }

    @AfterEach
    void stopBrowser() {
        if (browser != null) {
            browser.quit();
        }
    }

    @Test
    void generatesStopsAndShowsErrors() throws Exception {
        browser.get("http://localhost:" + port + "/");
        // poll often: 200 tokens stream in well under a second, so the stop below must come early
        WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(20), Duration.ofMillis(10));
        wait.until(d -> new Select(d.findElement(By.id("model"))).getFirstSelectedOption().getText().equals("moa-shakespeare"));

        // generate: the streamed text grows over time
        setValue("max_tokens", "200");
        browser.findElement(By.id("generate")).click();
        WebElement out = browser.findElement(By.id("output"));
        wait.until(d -> out.getText().length() > 5);
        int early = out.getText().length();
        wait.until(d -> out.getText().length() > early + 20);
        assertTrue(browser.findElement(By.id("ttft")).getText().matches("TTFT \\d+ ms"));

        // stop mid-stream: the page says so and the server frees the slot
        browser.findElement(By.id("stopBtn")).click();
        wait.until(ExpectedConditions.textToBe(By.id("status"), "stopped"));
        int stoppedAt = out.getText().length();
        assertTrue(stoppedAt < 200, "stopped before the end");
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (service.generator().scheduler().runningCount() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(0, service.generator().scheduler().runningCount());
        File shot = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE);
        Files.copy(shot.toPath(), Path.of("target/playground.png"), StandardCopyOption.REPLACE_EXISTING);

        // a completion run to its end: the count shown is the server's usage, not the stream's chunks
        new Select(browser.findElement(By.id("mode"))).selectByValue("completion");
        setValue("max_tokens", "30");
        browser.findElement(By.id("generate")).click();
        wait.until(ExpectedConditions.textToBe(By.id("status"), "done"));
        assertEquals("30 tokens", browser.findElement(By.id("ntok")).getText());

        // an API error is shown as a readable message naming the field
        setValue("max_tokens", "100000");
        browser.findElement(By.id("generate")).click();
        WebElement error = browser.findElement(By.id("error"));
        wait.until(ExpectedConditions.visibilityOf(error));
        assertTrue(error.getText().startsWith("400:") && error.getText().contains("max_tokens"), error.getText());
    }

    @Test
    void showsWhatEachExpertRouted() throws Exception {
        browser.get("http://localhost:" + port + "/");
        WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(30), Duration.ofMillis(20));
        wait.until(d -> new Select(d.findElement(By.id("model"))).getFirstSelectedOption().getText().equals("moa-shakespeare"));
        WebElement prompt = browser.findElement(By.id("prompt"));
        prompt.clear();
        prompt.sendKeys("First Citizen:\nBefore we proceed any further, hear me speak.\nAll:\nSpeak, speak.\n");
        setValue("max_tokens", "60");
        setValue("temperature", "0");
        browser.findElement(By.id("show-routing")).click();
        browser.findElement(By.id("generate")).click();
        wait.until(ExpectedConditions.textToBe(By.id("status"), "done"));
        WebElement view = browser.findElement(By.id("routing"));
        assertTrue(view.isDisplayed(), "the routing view opens after a routed completion");
        var spans = browser.findElements(By.cssSelector("#r-tokens span"));
        assertEquals(prompt.getAttribute("value").length() + 60, spans.size(),
                "one span per token of prompt and completion (the embedded model's tokens are characters)");

        // a token of the third window: its expert attended min(k_kv, 64) earlier tokens; k_q = w routes all 32 of its window
        spans.get(70).click();
        assertEquals(32, browser.findElements(By.cssSelector("#r-tokens span.attended")).size());
        assertEquals(32, browser.findElements(By.cssSelector("#r-tokens span.query")).size());
        for (WebElement a : browser.findElements(By.cssSelector("#r-tokens span.attended"))) {
            assertTrue(Integer.parseInt(a.getAttribute("data-pos")) < 64, "attended keys come from earlier windows");
        }
        String info = browser.findElement(By.id("r-info")).getText();
        assertTrue(info.startsWith("position 70 (window 2): routed by L0/E0"), info);
        // the overview: one row per layer and expert, one column per routed window
        var heatRows = browser.findElements(By.cssSelector("#r-heat tr"));
        assertEquals(1 + 4 * 2, heatRows.size());
        // a token of window 0 has local attention only
        spans.get(5).click();
        assertTrue(browser.findElement(By.id("r-info")).getText().contains("local attention only"));
        browser.manage().window().setSize(new org.openqa.selenium.Dimension(1000, 1100));
        spans.get(70).click();
        ((org.openqa.selenium.JavascriptExecutor) browser).executeScript("document.getElementById('routing').scrollIntoView()");
        File shot = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE);
        Files.copy(shot.toPath(), Path.of("target/playground-routing.png"), StandardCopyOption.REPLACE_EXISTING);
    }

    private void setValue(String id, String value) {
        WebElement e = browser.findElement(By.id(id));
        e.clear();
        e.sendKeys(value);
    }
}
