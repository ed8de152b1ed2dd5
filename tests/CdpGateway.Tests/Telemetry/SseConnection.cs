using System.Text;

namespace CdpGateway.Tests.Telemetry;

/// <summary>One frame of a Server-Sent Events stream (the lines up to a blank line).</summary>
internal sealed record SseFrame(string? Id, string? Event, string? Data, IReadOnlyList<string> Comments)
{
    public bool IsKeepalive => Id is null && Event is null && Data is null && Comments.SequenceEqual([""]);
}

/// <summary>A minimal SSE client: reads whole frames from an open <c>text/event-stream</c> response.</summary>
internal sealed class SseConnection(HttpResponseMessage response, Stream body) : IDisposable
{
    private readonly StreamReader _reader = new(body, Encoding.UTF8);

    public HttpResponseMessage Response { get; } = response;

    /// <summary>The next frame, or null when the server ended the stream.</summary>
    public async Task<SseFrame?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        string? id = null, evt = null, data = null;
        var comments = new List<string>();
        bool any = false;
        while (true)
        {
            string? line = await _reader.ReadLineAsync(cancellationToken);
            if (line is null)
            {
                return any ? new SseFrame(id, evt, data, comments) : null;
            }
            if (line.Length == 0)
            {
                if (any)
                {
                    return new SseFrame(id, evt, data, comments);
                }
                continue;
            }
            any = true;
            if (line[0] == ':')
            {
                comments.Add(line[1..]);
                continue;
            }
            int colon = line.IndexOf(':');
            string field = colon < 0 ? line : line[..colon];
            string value = colon < 0 ? "" : line[(colon + 1)..];
            if (value.StartsWith(' '))
            {
                value = value[1..];
            }
            switch (field)
            {
                case "id": id = value; break;
                case "event": evt = value; break;
                case "data": data = data is null ? value : data + "\n" + value; break;
            }
        }
    }

    /// <summary>The rest of the body as text (for non-stream answers such as a 400).</summary>
    public Task<string> ReadRestAsync(CancellationToken cancellationToken) => _reader.ReadToEndAsync(cancellationToken);

    public void Dispose()
    {
        _reader.Dispose();
        Response.Dispose();
    }
}
