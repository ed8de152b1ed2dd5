using System.Text;
using System.Text.Json;
using CdpGateway.Telemetry;
using CdpGateway.Telemetry.Commands;
using Microsoft.Extensions.Time.Testing;

namespace CdpGateway.Tests.Telemetry.Commands;

public sealed class CdpCommandEventTests
{
    [Fact]
    public void ThePayloadIsEmbeddedUnchangedAsTheEventsData()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero));
        var stream = new EventStream(time, new TelemetryConfig());
        byte[] frame = Encoding.UTF8.GetBytes("""{"id":3,"method":"Page.navigate","params":{"url":"https://secret.example/"}}""");
        Assert.True(CdpCommandClassifier.TryReadMethod(frame, out CdpMethod method));
        CdpCommandData data = CdpCommandClassifier.Classify(frame, method, "conn-1").Data!;
        DateTimeOffset forwardedAt = time.GetUtcNow().AddMilliseconds(-5);

        long seq = stream.PublishCommand(data, forwardedAt);

        Assert.Equal(1, seq);
        EventEnvelope envelope = Assert.Single(stream.Snapshot(0, 10, null));
        Assert.Equal(CdpCommandEvents.Type, envelope.Type);
        Assert.Equal(EventCategory.Control, envelope.Category);
        using JsonDocument document = JsonDocument.Parse(envelope.Utf8Json);
        JsonElement e = document.RootElement.GetProperty("event");
        Assert.Equal("cdp_command", e.GetProperty("type").GetString());
        Assert.Equal("control", e.GetProperty("category").GetString());
        Assert.Equal(forwardedAt.ToUnixTimeMilliseconds() * 1000, e.GetProperty("ts").GetInt64());
        Assert.Equal(data.ToString(), e.GetProperty("data").GetRawText());
        Assert.Equal(
            """{"method":"Page.navigate","connection_id":"conn-1","command_id":3,"url_scheme":"https","referrer_present":false}""",
            e.GetProperty("data").GetRawText());
    }

    [Fact]
    public void TheControlCategorySwitchApplies()
    {
        var config = new TelemetryConfig();
        config.SetEnabled(EventCategory.Control, false);
        var stream = new EventStream(TimeProvider.System, config);
        byte[] frame = Encoding.UTF8.GetBytes("""{"method":"Browser.close"}""");
        CdpCommandData data = CdpCommandClassifier.Classify(frame, CdpMethod.BrowserClose, "c").Data!;

        Assert.Equal(0, stream.PublishCommand(data, DateTimeOffset.UtcNow));
    }

    [Fact]
    public void DataRoundTripsThroughTheJsonContext()
    {
        CdpCommandData data = CdpCommandClassifier.Classify(
            Encoding.UTF8.GetBytes("""{"id":1,"method":"Input.insertText","params":{"text":"abc"}}"""),
            CdpMethod.InputInsertText, "c").Data!;

        string json = JsonSerializer.Serialize(data, TelemetryJsonContext.Default.CdpCommandData);
        CdpCommandData back = JsonSerializer.Deserialize(json, TelemetryJsonContext.Default.CdpCommandData)!;

        Assert.Equal(data.ToString(), json);
        Assert.Equal(CdpMethod.InputInsertText, back.Method);
        Assert.Equal(json, back.ToString());
    }
}
