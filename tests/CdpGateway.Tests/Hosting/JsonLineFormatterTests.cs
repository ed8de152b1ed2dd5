using System.Text.Json;
using CdpGateway.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace CdpGateway.Tests.Hosting;

/// <summary>One entry of <c>--log-format json</c>: the fields a log shipper indexes, and nothing that breaks the line.</summary>
public sealed class JsonLineFormatterTests
{
    [Fact]
    public void AnEntryWithAnExceptionInsideAConnection_IsOneLineWithTheExceptionTheConnectionAndTheInstance()
    {
        var formatter = new JsonLineFormatter(new FixedOptions(new JsonLineFormatterOptions { Instance = "gw-1", IncludeScopes = true }));
        var scopes = new LoggerExternalScopeProvider();
        using var writer = new StringWriter();
        using (scopes.Push(new ConnectionLogScope("0123456789abcdef")))
        {
            Exception thrown;
            try
            {
                throw new InvalidOperationException("broken \"pipe\"\nsecond line");
            }
            catch (InvalidOperationException e)
            {
                thrown = e;
            }
            var entry = new LogEntry<string>(LogLevel.Error, "CdpGateway.Proxy.CdpConnectionHandler", new EventId(42, "Fault"), "it failed: é",
                thrown, (state, _) => state);
            formatter.Write(entry, scopes, writer);
        }

        var text = writer.ToString();
        Assert.EndsWith("\n", text, StringComparison.Ordinal);
        Assert.Single(text.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var line = JsonDocument.Parse(text).RootElement;
        Assert.Equal("error", line.GetProperty("level").GetString());
        Assert.Equal(42, line.GetProperty("event_id").GetInt32());
        Assert.Equal("Fault", line.GetProperty("event_name").GetString());
        Assert.Equal("it failed: é", line.GetProperty("message").GetString());
        Assert.Contains("broken \"pipe\"\nsecond line", line.GetProperty("exception").GetString(), StringComparison.Ordinal);
        Assert.Contains(nameof(AnEntryWithAnExceptionInsideAConnection_IsOneLineWithTheExceptionTheConnectionAndTheInstance),
            line.GetProperty("exception").GetString(), StringComparison.Ordinal);
        Assert.Equal("gw-1", line.GetProperty("instance").GetString());
        Assert.Equal("0123456789abcdef", line.GetProperty("connection_id").GetString());
    }

    [Fact]
    public void AnEntryOutsideAConnection_HasNoConnectionId_AndOneThatNamesItsConnectionCarriesIt()
    {
        var formatter = new JsonLineFormatter(new FixedOptions(new JsonLineFormatterOptions { Instance = "gw-1", IncludeScopes = true }));
        var logger = new CapturingLogger();
        logger.LogInformation("Connection {ConnectionId} ended", "fedcba9876543210");
        logger.LogInformation("Chromium started");

        var lines = logger.Entries.Select(write =>
        {
            using var writer = new StringWriter();
            write(formatter, writer);
            return JsonDocument.Parse(writer.ToString()).RootElement.Clone();
        }).ToList();

        Assert.Equal("fedcba9876543210", lines[0].GetProperty("connection_id").GetString());
        Assert.Equal("Connection fedcba9876543210 ended", lines[0].GetProperty("message").GetString());
        Assert.False(lines[1].TryGetProperty("connection_id", out _));
        Assert.False(lines[1].TryGetProperty("exception", out _));
        Assert.Equal("info", lines[1].GetProperty("level").GetString());
    }

    private sealed class FixedOptions(JsonLineFormatterOptions value) : IOptionsMonitor<JsonLineFormatterOptions>
    {
        public JsonLineFormatterOptions CurrentValue => value;

        public JsonLineFormatterOptions Get(string? name) => value;

        public IDisposable? OnChange(Action<JsonLineFormatterOptions, string?> listener) => null;
    }

    /// <summary>Keeps each entry as the console logger would hand it to its formatter.</summary>
    private sealed class CapturingLogger : ILogger
    {
        public List<Action<JsonLineFormatter, TextWriter>> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Add((f, w) => f.Write(new LogEntry<TState>(logLevel, "Test", eventId, state, exception, formatter), null, w));
    }
}
