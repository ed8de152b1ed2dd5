using System.Buffers;
using System.Text.Json;
using System.Text.Unicode;
using Microsoft.AspNetCore.Http;

namespace CdpGateway.Api;

/// <summary>Why a body could not be read as JSON: the HTTP status, what went wrong, and the message for the client.</summary>
public sealed record JsonBodyError(int Status, JsonBodyProblem Problem, string Detail, string Message);

public enum JsonBodyProblem
{
    TooLarge,
    Empty,
    NotJson,
    NotUnicode,
}

/// <summary>
/// Reads a small JSON request body for the control API. A body over <see cref="MaxBytes"/> is refused (413)
/// from its Content-Length before a byte is read, or as soon as a chunked body passes the limit, so a client
/// cannot make the gateway hold more than that. The bytes go into one pooled buffer, returned after parsing.
/// Text that is not valid UTF-8, or a string escape that is not valid UTF-16 (a lone surrogate), is a 400
/// here: System.Text.Json would otherwise only throw when the string is read, far from any error answer.
/// </summary>
public static class JsonBody
{
    public const int MaxBytes = 64 * 1024;

    /// <summary>
    /// Reads the body and hands its root to <paramref name="read"/> while the buffer is still held; the element must
    /// not escape it. <paramref name="expected"/> describes a good body, for the messages.
    /// </summary>
    public static async Task<(T? Value, JsonBodyError? Error)> ReadAsync<T>(HttpRequest request, Func<JsonElement, T> read, string expected,
        CancellationToken cancellationToken)
    {
        if (request.ContentLength > MaxBytes)
        {
            return (default, TooLarge(expected));
        }
        // One byte more than allowed tells an over-long chunked body from one exactly at the limit.
        var size = (int)Math.Min(request.ContentLength ?? MaxBytes, MaxBytes) + 1;
        var buffer = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            var length = 0;
            int got;
            while ((got = await request.Body.ReadAsync(buffer.AsMemory(length, size - length), cancellationToken).ConfigureAwait(false)) > 0)
            {
                length += got;
                if (length == size)
                {
                    // Past the limit (chunked), or past its own Content-Length, which the server's framing already rules out.
                    return (default, TooLarge(expected));
                }
            }
            return Parse(buffer.AsMemory(0, length), read, expected);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static (T? Value, JsonBodyError? Error) Parse<T>(ReadOnlyMemory<byte> body, Func<JsonElement, T> read, string expected)
    {
        if (body.IsEmpty)
        {
            return (default, Error(StatusCodes.Status400BadRequest, JsonBodyProblem.Empty, "it is empty", $"the body is empty; expected {expected}"));
        }
        if (!Utf8.IsValid(body.Span))
        {
            return (default, Error(StatusCodes.Status400BadRequest, JsonBodyProblem.NotUnicode, "it is not valid UTF-8",
                $"the body is not valid UTF-8; expected {expected}"));
        }
        try
        {
            if (FindBadString(body.Span) is { } bad)
            {
                return (default, Error(StatusCodes.Status400BadRequest, JsonBodyProblem.NotUnicode, bad, $"the body {bad}; expected {expected}"));
            }
            using var doc = JsonDocument.Parse(body);
            return (read(doc.RootElement), null);
        }
        catch (JsonException e)
        {
            return (default, Error(StatusCodes.Status400BadRequest, JsonBodyProblem.NotJson, e.Message,
                $"the body is not valid JSON ({e.Message}); expected {expected}"));
        }
    }

    /// <summary>Unescapes every escaped string and property name once, so none fails later; describes the first that is not valid Unicode.</summary>
    private static string? FindBadString(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body);
        char[]? chars = null;
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.PropertyName) || !reader.ValueIsEscaped)
                {
                    continue;
                }
                var needed = reader.HasValueSequence ? (int)reader.ValueSequence.Length : reader.ValueSpan.Length;
                if (chars is null || chars.Length < needed)
                {
                    if (chars is not null)
                    {
                        ArrayPool<char>.Shared.Return(chars);
                    }
                    chars = ArrayPool<char>.Shared.Rent(needed);
                }
                try
                {
                    reader.CopyString(chars);
                }
                catch (InvalidOperationException)
                {
                    return $"holds a string at byte {reader.TokenStartIndex} that is not valid Unicode (a lone surrogate escape)";
                }
            }
            return null;
        }
        finally
        {
            if (chars is not null)
            {
                ArrayPool<char>.Shared.Return(chars);
            }
        }
    }

    private static JsonBodyError TooLarge(string expected) =>
        Error(StatusCodes.Status413PayloadTooLarge, JsonBodyProblem.TooLarge, $"it is over {MaxBytes} bytes",
            $"the body is over the limit of {MaxBytes} bytes (64 KiB); expected {expected}");

    private static JsonBodyError Error(int status, JsonBodyProblem problem, string detail, string message) => new(status, problem, detail, message);
}
