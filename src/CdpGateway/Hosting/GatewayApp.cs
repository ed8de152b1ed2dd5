using System.Net;
using CdpGateway.Api;
using CdpGateway.Api.LiveView;
using CdpGateway.Browser;
using CdpGateway.Proxy;
using CdpGateway.Proxy.Epoll;
using CdpGateway.Proxy.Transport;
using Microsoft.AspNetCore.Connections;
using CdpGateway.Telemetry;
using CdpGateway.Telemetry.Metrics;
using CdpGateway.Telemetry.Nats;
using CdpGateway.Telemetry.Stats;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CdpGateway.Hosting;

/// <summary>
/// The composition root: one Kestrel with two listeners (the DevTools port and the API port), the
/// DevTools URL source (a launched Chromium or a followed log), the telemetry pipeline, and the
/// shutdown order: clients closed with their events, then Chromium stopped, then the events file flushed and the
/// NATS sink given its grace.
/// </summary>
public sealed class GatewayApp : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly GatewayOptions _options;
    private readonly PortBinding _cdp = new();
    private readonly PortBinding _api = new();
    private IAsyncDisposable? _browserSource;
    private EventsFileSink? _eventsFile;
    private NatsEventSink? _nats;
    private int _stopped;

    private GatewayApp(GatewayOptions options, TimeProvider time, bool superviseBrowser, Action<ILoggingBuilder>? logging, Action<IServiceCollection>? configureServices)
    {
        _options = options;
        // Settings come from the command line and CDPGW_ variables alone: no appsettings.json or ASPNETCORE_ variable
        // reconfigures Kestrel or logging behind the options' back, and no file watcher is put on the working directory's
        // whole tree (one inotify watch per directory, woken by every file written under it: a data dir, a spool, a NATS
        // store; from "/" it would try to watch the whole file system).
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        builder.Configuration.Sources.Clear();
        builder.Logging.ClearProviders();
        var instance = GatewayInstance.Create(options.InstanceId, options.CdpPort);
        if (logging is null)
        {
            GatewayLogging.Configure(builder.Logging, options, instance);
        }
        else
        {
            logging(builder.Logging);
        }

        CommandLine.Validate(options);
        // Only a gateway that launches Chromium itself needs to supervise it (tests leave the browser to themselves).
        var launch = LaunchSupervision.Decide(LaunchSupervision.Here, attachMode: options.AttachMode || !superviseBrowser, options.Unsupervised);
        if (launch.Verdict == LaunchVerdict.Refuse)
        {
            throw new PlatformRefusalException(launch.Message!);
        }
        var bind = CommandLine.ParseBind(options.Bind);
        // Relay traffic continues on the thread that completed the socket operation instead of being
        // handed to the thread pool once more (input and output pipes alike): fewer context switches
        // per relayed message. Safe because nothing after a socket await blocks (see RuntimeTuning).
        builder.WebHost.UseSockets(sockets =>
        {
            sockets.UnsafePreferInlineScheduling = true;
            // Both ports: a vanished telemetry stream reader holds its connection as long as a vanished CDP client.
            sockets.CreateBoundListenSocket = endpoint =>
            {
                var socket = SocketTransportOptions.CreateDefaultBoundListenSocket(endpoint);
                if (endpoint is IPEndPoint)
                {
                    ClientKeepAlive.Apply(socket);
                }
                return socket;
            };
        });
        // Where the epoll relay runs, the CDP port gets a transport whose sockets live on its loops, so the relay can
        // take a client's socket over after the upgrade; elsewhere Kestrel's own socket transport serves both ports.
        // Decided once, before the services are built: the engine is a service, and the transport depends on it.
        var epollOff = EpollRelay.OffReasonHere;
        builder.Services.AddSingleton(sp => EpollRelay.Create(epollOff, sp.GetRequiredService<ILogger<EpollRelay>>()));
        if (epollOff is null)
        {
            builder.Services.AddSingleton<IConnectionListenerFactory>(sp => new CdpSocketTransportFactory(sp.GetRequiredService<EpollRelay>(), sp));
            builder.Services.AddSingleton<LoopUpgradeAcceptor>();
        }
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(epollOff is not null ? new IPEndPoint(bind, options.CdpPort) : new CdpSocketEndPoint(bind, options.CdpPort), listen => _cdp.Listen = listen);
            kestrel.Listen(bind, options.ApiPort, listen => _api.Listen = listen);
        });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownGrace);

        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(time);
        services.AddSingleton(instance);
        services.AddSingleton<DevToolsUrlTracker>();
        services.AddTelemetry();
        services.AddSingleton<UpstreamDialer>();
        services.AddSingleton<DisconnectReasonResolver>();
        services.AddSingleton(new ConnectionLimiter(options.MaxConnections, options.Queue, options.QueueTimeout, time));
        services.AddSingleton<GatewayLifetime>();
        services.AddSingleton<CdpMessageLog>();
        services.AddSingleton<PendingDisconnects>();
        services.AddSingleton(new AccessPolicy(options));
        services.AddSingleton<AccessControl>();
        services.AddSingleton<CdpConnectionHandler>();
        services.AddSingleton<ChromiumDiscoveryClient>();
        services.AddGatewayMetrics(instance);
        services.AddOtlpExport(options, instance);
        services.AddSingleton<LiveViewHub>();
        services.AddGatewayStats();
        services.AddSingleton(sp => CreateChromiumControl(sp, options, superviseBrowser, launch));
        if (NatsSinkOptions.From(options) is { } nats)
        {
            // Created in StartAsync (resolving it attaches it to the stream) and disposed in StopAsync, after the events file.
            services.AddSingleton(sp => new NatsEventSink(nats, sp.GetRequiredService<EventStream>(), sp.GetRequiredService<GatewayInstance>(),
                // Real time, not the registered clock: its waits pace a network client that keeps real time itself.
                TimeProvider.System, sp.GetRequiredService<ILogger<NatsEventSink>>()));
        }

        configureServices?.Invoke(builder.Services);
        _app = builder.Build();
        _app.UseWebSockets();
        var access = _app.Services.GetRequiredService<AccessControl>();
        _app.Use((context, next) => access.InvokeAsync(context, next, context.Connection.LocalPort == _cdp.Port ? AccessPort.Cdp : AccessPort.Api));
        _app.MapWhen(c => c.Connection.LocalPort == _cdp.Port, cdp =>
        {
            cdp.UseRouting();
            cdp.UseEndpoints(endpoints =>
            {
                DiscoveryEndpoints.Map(endpoints);
                var handler = endpoints.ServiceProvider.GetRequiredService<CdpConnectionHandler>();
                // Upgrades to any path and plain requests to WebSocket paths are the handler's (the latter a 400 naming
                // the upgrade); any other plain request is for a path the port does not have.
                endpoints.Map("/{**path}", c => c.WebSockets.IsWebSocketRequest || c.Request.Path.StartsWithSegments("/devtools")
                    ? handler.HandleAsync(c)
                    : DiscoveryEndpoints.NotFoundAsync(c));
            });
        });
        _app.MapWhen(c => c.Connection.LocalPort == _api.Port, api =>
        {
            api.UseRouting();
            api.UseEndpoints(endpoints =>
            {
                HealthEndpoints.Map(endpoints);
                ChromiumEndpoints.Map(endpoints);
                ConnectionsEndpoints.Map(endpoints);
                TelemetryEndpoints.Map(endpoints);
                TelemetryConfigEndpoints.Map(endpoints);
                MetricsEndpoint.Map(endpoints);
                StatsEndpoint.Map(endpoints);
                DashboardEndpoint.Map(endpoints);
                LiveViewEndpoints.Map(endpoints);
            });
        });
    }

    /// <summary>Builds the gateway. <paramref name="superviseBrowser"/> false leaves the DevTools URL to the caller (tests).</summary>
    /// <param name="services">Replaces registrations after the defaults (tests swap the event publisher).</param>
    public static GatewayApp Create(GatewayOptions options, TimeProvider? time = null, bool superviseBrowser = true,
        Action<ILoggingBuilder>? logging = null, Action<IServiceCollection>? services = null) =>
        new(options, time ?? TimeProvider.System, superviseBrowser, logging, services);

    public IServiceProvider Services => _app.Services;
    public DevToolsUrlTracker Tracker => Services.GetRequiredService<DevToolsUrlTracker>();
    public EventStream Events => Services.GetRequiredService<EventStream>();
    public IChromiumControl Chromium => Services.GetRequiredService<IChromiumControl>();
    public int CdpPort => _cdp.Port;
    public int ApiPort => _api.Port;

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_options.EventsFile is { Length: > 0 } path)
        {
            _eventsFile = new EventsFileSink(path, Events, Services.GetRequiredService<ILogger<EventsFileSink>>(), _options.EventsFileMode);
        }
        _nats = Services.GetService<NatsEventSink>();
        if (_nats is not null)
        {
            NatsSinkMetrics.Register(Services.GetRequiredService<GatewayMetrics>().Meter, _nats);
        }
        await _app.StartAsync(cancellationToken).ConfigureAwait(false);
        var chromium = Chromium;
        _browserSource = chromium;
        await chromium.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Launch mode, attach mode, or (not supervising: tests) a browser whose URL the caller sets.</summary>
    private static IChromiumControl CreateChromiumControl(IServiceProvider sp, GatewayOptions options, bool superviseBrowser, LaunchDecision launch)
    {
        var tracker = sp.GetRequiredService<DevToolsUrlTracker>();
        var events = sp.GetRequiredService<IEventPublisher>();
        var time = sp.GetRequiredService<TimeProvider>();
        if (!superviseBrowser)
        {
            return new AttachedChromium(options, tracker, null, events, time, sp.GetRequiredService<ILogger<AttachedChromium>>(), probe: false);
        }
        if (options.AttachMode)
        {
            var follower = new ChromiumLogFollower(options.ChromiumLog!, tracker, time, sp.GetRequiredService<ILogger<ChromiumLogFollower>>());
            return new AttachedChromium(options, tracker, follower, events, time, sp.GetRequiredService<ILogger<AttachedChromium>>());
        }
        var logger = sp.GetRequiredService<ILogger<ChromiumSupervisor>>();
        if (launch.Verdict == LaunchVerdict.StartUnsupervised)
        {
            logger.LogWarning("{Warning}", launch.Message);
        }
        return new ChromiumSupervisor(options, tracker, events, time, logger);
    }

    /// <summary>Completes when the host has been asked to stop (SIGINT, SIGTERM).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    /// <summary>Stopping cancels every confirm wait; this bounds the command-telemetry drains that remain.</summary>
    private static readonly TimeSpan PendingDisconnectsGrace = TimeSpan.FromSeconds(2);

    /// <summary>Closes every client (1001, with its event), stops Chromium, then flushes the events file.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }
        await _app.StopAsync().ConfigureAwait(false);
        await Services.GetRequiredService<LiveViewHub>().DisposeAsync().ConfigureAwait(false);
        // Stopping cancelled every confirm wait, so these resolve at once as context_cancelled.
        await Services.GetRequiredService<PendingDisconnects>().WaitAsync(PendingDisconnectsGrace).ConfigureAwait(false);
        if (_browserSource is not null)
        {
            await _browserSource.DisposeAsync().ConfigureAwait(false);
        }
        if (_eventsFile is not null)
        {
            await _eventsFile.DisposeAsync().ConfigureAwait(false);
        }
        if (_nats is not null)
        {
            // Bounded by the sink's own shutdown grace; what NATS does not take by then waits in the spool.
            await _nats.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>A listener and, once bound, its real port (the option may say 0).</summary>
    private sealed class PortBinding
    {
        public ListenOptions? Listen { get; set; }

        public int Port => Listen?.IPEndPoint?.Port ?? -1;
    }
}
