package dev.moaserve.model;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The chat template: messages rendered into the prompt the model was trained on. */
class ChatTemplateTest {
    private static final List<ChatTemplate.Message> TALK = List.of(
            new ChatTemplate.Message("system", "Speak in verse."),
            new ChatTemplate.Message("user", "Who is there?"));

    @Test
    void theDefaultTemplateRendersRolesAsSpeakers() {
        assertSame(ChatTemplate.DEFAULT, ChatTemplate.parse(null, "none"));
        assertEquals("SYSTEM:\nSpeak in verse.\n\nUSER:\nWho is there?\n\nASSISTANT:\n", ChatTemplate.DEFAULT.render(TALK));
        assertEquals(List.of("\n\n"), ChatTemplate.DEFAULT.stop());
    }

    @Test
    void aModelsTemplateIsUsedAsWritten() {
        ChatTemplate t = ChatTemplate.parse("{\"message\": \"<{role}>{content}</{role}>\", \"generation_prompt\": \"<{role}>\", "
                + "\"stop\": [\"</assistant>\"]}", "chat_template.json");
        assertEquals("<system>Speak in verse.</system><user>Who is there?</user><assistant>", t.render(TALK));
        assertEquals(List.of("</assistant>"), t.stop());
    }

    @Test
    void placeholdersInsideContentStayLiteral() {
        String out = ChatTemplate.DEFAULT.render(List.of(new ChatTemplate.Message("user", "say {ROLE} and {content}")));
        assertEquals("USER:\nsay {ROLE} and {content}\n\nASSISTANT:\n", out);
    }

    @Test
    void aMalformedTemplateNamesItsFile() {
        ModelException missing = assertThrows(ModelException.class, () -> ChatTemplate.parse("{\"message\": \"x\"}", "m/chat_template.json"));
        assertTrue(missing.getMessage().startsWith("m/chat_template.json: ") && missing.getMessage().contains("generation_prompt"));
        ModelException json = assertThrows(ModelException.class, () -> ChatTemplate.parse("{", "m/chat_template.json"));
        assertTrue(json.getMessage().contains("not valid JSON"), json.getMessage());
    }
}
