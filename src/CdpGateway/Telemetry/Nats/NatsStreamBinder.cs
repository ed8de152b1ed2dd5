using Microsoft.Extensions.Logging;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace CdpGateway.Telemetry.Nats;

/// <summary>
/// Makes sure the sink's stream exists: creates it (subjects <c>PREFIX.&gt;</c>, file storage, the byte limit and a
/// duplicate window) when it is missing and the server lets the gateway, and otherwise uses the stream as it is. An
/// existing stream is never changed, purged or deleted: it may be the operator's, set up with other limits on purpose.
/// </summary>
public sealed partial class NatsStreamBinder(NatsSinkOptions options, ILogger logger)
{
    /// <summary>What the last successful call did, so a repeat (after a reconnect) is not logged again.</summary>
    private string? _lastOutcome;

    /// <summary>The configuration a stream created by the gateway gets.</summary>
    public StreamConfig DesiredConfig() => new(options.StreamName, [NatsNaming.StreamSubjects(options.SubjectPrefix)])
    {
        Storage = StreamConfigStorage.File,
        MaxBytes = options.StreamMaxBytes,
        DuplicateWindow = options.DuplicateWindow,
        Discard = StreamConfigDiscard.Old,
    };

    /// <summary>
    /// Finds or creates the stream. True when publishing can go ahead: the stream is there, or the server refuses
    /// both looking and creating (permissions), in which case the publishes' acks tell whether it exists.
    /// Throws when the server cannot be asked at all (not connected, timeout), so the caller tries again later.
    /// </summary>
    public async Task<bool> EnsureAsync(INatsJSContext js, Func<bool> connected, CancellationToken cancellationToken)
    {
        string outcome;
        try
        {
            var existing = await js.GetStreamAsync(options.StreamName, cancellationToken: cancellationToken).ConfigureAwait(false);
            var config = existing.Info.Config;
            bool same = config.Subjects is { } subjects && subjects.Contains(NatsNaming.StreamSubjects(options.SubjectPrefix))
                && config.Storage == StreamConfigStorage.File && config.MaxBytes == options.StreamMaxBytes;
            outcome = same ? "found" : "found with other settings";
        }
        catch (NatsJSApiException e) when (e.Error.Code == 404)
        {
            try
            {
                await js.CreateStreamAsync(DesiredConfig(), cancellationToken).ConfigureAwait(false);
                outcome = "created";
            }
            catch (Exception refused) when (refused is NatsJSApiException || (connected() && !cancellationToken.IsCancellationRequested))
            {
                // A server that denies the API subject answers nothing: silence on an open connection is a refusal.
                outcome = "not created, used as it is (" + Describe(refused) + ")";
            }
        }
        catch (Exception e) when (e is not NatsJSApiException { Error.Code: 404 } && connected() && !cancellationToken.IsCancellationRequested)
        {
            outcome = "not looked up, used as it is (" + Describe(e) + ")";
        }
        if (outcome != _lastOutcome)
        {
            _lastOutcome = outcome;
            LogStream(logger, options.StreamName, outcome, NatsNaming.StreamSubjects(options.SubjectPrefix));
        }
        return true;
    }

    private static string Describe(Exception e) => e is NatsJSApiException api ? api.Error.Description ?? api.Message : e.Message;

    /// <summary>The stream is gone (a wiped server): the next successful call is logged again.</summary>
    public void Forget() => _lastOutcome = null;

    [LoggerMessage(Level = LogLevel.Information, Message = "NATS stream {Stream}: {Outcome}; publishing telemetry on {Subjects}")]
    private static partial void LogStream(ILogger logger, string stream, string outcome, string subjects);
}
