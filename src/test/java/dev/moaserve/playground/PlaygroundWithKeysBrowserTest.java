package dev.moaserve.playground;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** On a server with API keys the page loads, says a key is needed, and works once one is typed. */
@QuarkusTest
@TestProfile(PlaygroundWithKeysBrowserTest.WithKeys.class)
class PlaygroundWithKeysBrowserTest {
    public static class WithKeys implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("moa.api-keys", "page-key");
        }
    }

    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    private ChromeDriver browser;

    @BeforeEach
    void startBrowser() {
        browser = PlaygroundBrowserTest.startChromium();
    }

    @AfterEach
    void stopBrowser() {
        if (browser != null) {
            browser.quit();
        }
    }

    @Test
    void asksForTheKeyAndUsesIt() {
        browser.get("http://localhost:" + port + "/");
        WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(20));
        WebElement error = browser.findElement(By.id("error"));
        wait.until(ExpectedConditions.visibilityOf(error));
        assertTrue(error.getText().startsWith("401:") && error.getText().contains("API key"), error.getText());
        WebElement key = browser.findElement(By.id("apikey"));
        assertTrue(key.isDisplayed(), "the key field is shown");

        key.sendKeys("page-key", Keys.TAB);
        wait.until(d -> new Select(d.findElement(By.id("model"))).getFirstSelectedOption().getText().equals("moa-shakespeare"));
        WebElement max = browser.findElement(By.id("max_tokens"));
        max.clear();
        max.sendKeys("12");
        browser.findElement(By.id("generate")).click();
        wait.until(ExpectedConditions.textToBe(By.id("status"), "done"));
        assertTrue(browser.findElement(By.id("output")).getText().length() > 0);
    }
}
