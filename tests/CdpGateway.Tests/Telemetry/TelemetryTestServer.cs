using System.Net.Http.Headers;
using CdpGateway.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace CdpGateway.Tests.Telemetry;

/// <summary>A real Kestrel server on 127.0.0.1 (any free port) serving only the telemetry endpoints.</summary>
internal sealed class TelemetryTestServer : IAsyncDisposable
{
    private TelemetryTestServer(WebApplication app, EventStream stream, TelemetryConfig config, FakeTimeProvider time)
    {
        App = app;
        Stream = stream;
        Config = config;
        Time = time;
        Client = new HttpClient { BaseAddress = new Uri(app.Urls.Single()) };
    }

    public WebApplication App { get; }
    public EventStream Stream { get; }
    public TelemetryConfig Config { get; }
    public FakeTimeProvider Time { get; }
    public HttpClient Client { get; }

    public static async Task<TelemetryTestServer> StartAsync(int capacity = 8192)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var config = new TelemetryConfig();
        var stream = new EventStream(time, config, capacity);

        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddSingleton<TimeProvider>(time);
        builder.Services.AddSingleton(config);
        builder.Services.AddSingleton(stream);
        WebApplication app = builder.Build();
        TelemetryEndpoints.Map(app);
        await app.StartAsync();
        return new TelemetryTestServer(app, stream, config, time);
    }

    /// <summary>Opens <c>/telemetry/stream</c> and returns once the response headers arrived.</summary>
    public async Task<SseConnection> OpenStreamAsync(string query = "", string? lastEventId = null, CancellationToken cancellationToken = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/telemetry/stream" + query);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }
        HttpResponseMessage response = await Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        return new SseConnection(response, await response.Content.ReadAsStreamAsync(cancellationToken));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
