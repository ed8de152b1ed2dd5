using System.Text.Json;
using NATS.Client.JetStream.Models;

namespace CdpGateway.Telemetry.Nats;

/// <summary>
/// Reads JetStream's publish reply (<c>{"stream":..,"seq":..,"duplicate":true}</c> or <c>{"error":{..}}</c>) straight
/// from the received bytes: one reply arrives per event shipped, so a stored ack allocates nothing. Never throws: what
/// it cannot read is a reply that is neither an ack nor an error.
/// </summary>
/// <remarks>
/// The ack as nats-server writes it (<c>{"stream":"CDP", "seq":42}</c>, with <c>,"duplicate": true</c> for a resent
/// copy) is matched byte by byte first; anything else (another server's spacing or key order, a domain, an error) goes
/// through the JSON reader, which gives the same answer for every form.
/// </remarks>
public static class NatsPubAckReader
{
    public static NatsPubAck Read(long id, ReadOnlySpan<byte> json)
    {
        if (json.IsEmpty)
        {
            return new NatsPubAck(id, false, false, null);
        }
        if (TryReadPlainAck(json, out bool duplicate))
        {
            return new NatsPubAck(id, true, duplicate, null);
        }
        try
        {
            return ReadObject(id, json);
        }
        catch (JsonException)
        {
            return new NatsPubAck(id, false, false, null);
        }
    }

    /// <summary>
    /// <c>{"stream":"NAME", "seq":N}</c> or <c>{"stream":"NAME", "seq":N,"duplicate": true}</c>, with or without the
    /// blanks after the colons and commas; false for anything else, which the JSON reader then reads.
    /// </summary>
    public static bool TryReadPlainAck(ReadOnlySpan<byte> json, out bool duplicate)
    {
        duplicate = false;
        if (!json.StartsWith("{\"stream\":\""u8))
        {
            return false;
        }
        json = json[11..];
        int nameEnd = json.IndexOfAny((byte)'"', (byte)'\\');
        if (nameEnd < 0 || json[nameEnd] != (byte)'"' || !Skip(ref json, nameEnd + 1, ","u8) || !Skip(ref json, 0, "\"seq\":"u8))
        {
            return false;
        }
        json = json.TrimStart((byte)' ');
        int digits = json.IndexOfAnyExceptInRange((byte)'0', (byte)'9');
        if (digits <= 0)
        {
            return false;
        }
        json = json[digits..];
        if (json.SequenceEqual("}"u8))
        {
            return true;
        }
        duplicate = Skip(ref json, 0, ","u8) && Skip(ref json, 0, "\"duplicate\":"u8) && Skip(ref json, 0, "true"u8) && json.SequenceEqual("}"u8);
        return duplicate;
    }

    /// <summary>Past <paramref name="skip"/> bytes and any blanks, <paramref name="expected"/> follows: steps over both.</summary>
    private static bool Skip(ref ReadOnlySpan<byte> json, int skip, ReadOnlySpan<byte> expected)
    {
        var rest = json[skip..].TrimStart((byte)' ');
        if (!rest.StartsWith(expected))
        {
            return false;
        }
        json = rest[expected.Length..];
        return true;
    }

    private static NatsPubAck ReadObject(long id, ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return new NatsPubAck(id, false, false, null);
        }
        bool stream = false;
        bool duplicate = false;
        ApiError? error = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("stream"u8))
            {
                reader.Read();
                stream = reader.TokenType == JsonTokenType.String;
            }
            else if (reader.ValueTextEquals("duplicate"u8))
            {
                reader.Read();
                duplicate = reader.TokenType == JsonTokenType.True;
            }
            else if (reader.ValueTextEquals("error"u8))
            {
                reader.Read();
                error = ReadError(ref reader);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        return new NatsPubAck(id, stream && error is null, duplicate, error);
    }

    private static ApiError ReadError(ref Utf8JsonReader reader)
    {
        var error = new ApiError();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return error;
        }
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("code"u8))
            {
                reader.Read();
                error.Code = reader.TokenType == JsonTokenType.Number ? reader.GetInt32() : 0;
            }
            else if (reader.ValueTextEquals("err_code"u8))
            {
                reader.Read();
                error.ErrCode = reader.TokenType == JsonTokenType.Number ? reader.GetInt32() : 0;
            }
            else if (reader.ValueTextEquals("description"u8))
            {
                reader.Read();
                error.Description = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        return error;
    }
}
