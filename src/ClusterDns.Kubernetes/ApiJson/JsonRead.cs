using System.Net;
using System.Text.Json;

namespace ClusterDns.Kubernetes.ApiJson;

/// <summary>
/// Steps of a forward-only read of API JSON with <see cref="Utf8JsonReader"/>. The readers accept properties in any order
/// and <c>null</c> wherever a value may be absent; a value of the wrong type fails with a <see cref="JsonException"/>
/// naming the field and its byte offset.
/// </summary>
internal static class JsonRead
{
    /// <summary>Moves to the next token; the type of that token.</summary>
    public static JsonTokenType Next(ref Utf8JsonReader reader)
    {
        if (!reader.Read()) throw new JsonException("the JSON ends early");
        return reader.TokenType;
    }

    /// <summary>Checks the current token is the start of an object or array; false for null (an absent value).</summary>
    public static bool Enter(ref Utf8JsonReader reader, JsonTokenType start, string field)
    {
        if (reader.TokenType == JsonTokenType.Null) return false;
        if (reader.TokenType != start) throw Unexpected(ref reader, field, start == JsonTokenType.StartObject ? "an object" : "an array");
        return true;
    }

    public static string? String(ref Utf8JsonReader reader, string field) => reader.TokenType switch
    {
        JsonTokenType.String => reader.GetString(),
        JsonTokenType.Null => null,
        _ => throw Unexpected(ref reader, field, "a string"),
    };

    public static bool? Boolean(ref Utf8JsonReader reader, string field) => reader.TokenType switch
    {
        JsonTokenType.True => true,
        JsonTokenType.False => false,
        JsonTokenType.Null => null,
        _ => throw Unexpected(ref reader, field, "true or false"),
    };

    public static int? Int32(ref Utf8JsonReader reader, string field)
    {
        if (reader.TokenType == JsonTokenType.Null) return null;
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out var value)) throw Unexpected(ref reader, field, "a 32-bit integer");
        return value;
    }

    /// <summary>Whether the current token is a string equal to <paramref name="text"/> (null and other strings are not).</summary>
    public static bool StringIs(ref Utf8JsonReader reader, ReadOnlySpan<byte> text, string field)
    {
        if (reader.TokenType == JsonTokenType.Null) return false;
        if (reader.TokenType != JsonTokenType.String) throw Unexpected(ref reader, field, "a string");
        return reader.ValueTextEquals(text);
    }

    /// <summary>A port protocol in lower case, TCP when absent; the three the API allows without a new string.</summary>
    public static string Protocol(ref Utf8JsonReader reader, string field)
    {
        if (reader.TokenType == JsonTokenType.Null) return "tcp";
        if (reader.TokenType != JsonTokenType.String) throw Unexpected(ref reader, field, "a string");
        if (reader.ValueTextEquals("TCP"u8)) return "tcp";
        if (reader.ValueTextEquals("UDP"u8)) return "udp";
        if (reader.ValueTextEquals("SCTP"u8)) return "sctp";
        return reader.GetString()!.ToLowerInvariant();
    }

    /// <summary>Adds the address the current string holds, unless it is empty, not an address, or already there.</summary>
    public static void AddAddress(List<byte[]> addresses, ref Utf8JsonReader reader, string field)
    {
        if (reader.TokenType == JsonTokenType.Null) return;
        if (reader.TokenType != JsonTokenType.String) throw Unexpected(ref reader, field, "an IP address string");
        Span<byte> unescaped = stackalloc byte[64];
        scoped ReadOnlySpan<byte> text;
        if (!reader.ValueIsEscaped) text = reader.ValueSpan;
        else if (reader.ValueSpan.Length <= unescaped.Length) text = unescaped[..reader.CopyString(unescaped)];
        else return; // longer than any address
        if (text.IsEmpty || !IPAddress.TryParse(text, out var address)) return;
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var written);
        bytes = bytes[..written];
        foreach (var existing in addresses)
        {
            if (existing.AsSpan().SequenceEqual(bytes)) return;
        }
        addresses.Add(bytes.ToArray());
    }

    public static JsonException Unexpected(ref Utf8JsonReader reader, string field, string expected) =>
        new($"{field}: expected {expected}, found {Describe(reader.TokenType)} at byte {reader.TokenStartIndex}");

    private static string Describe(JsonTokenType type) => type switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => type.ToString(),
    };
}

/// <summary>
/// One string per distinct short value that many objects share (namespaces, port names): 100,000 Pods in 50 namespaces
/// keep 50 namespace strings, not 100,000. Bounded, so a churn of namespaces cannot grow it without end.
/// </summary>
internal sealed class StringPool
{
    private const int MaxEntries = 4096, MaxLength = 128;
    private readonly HashSet<string> _strings = new(StringComparer.Ordinal);
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    public StringPool() => _lookup = _strings.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>The current string token's value (the reader must be on a string).</summary>
    public string Get(ref Utf8JsonReader reader)
    {
        // Never more characters than bytes, escaped or not.
        if (reader.ValueSpan.Length > MaxLength) return reader.GetString()!;
        Span<char> chars = stackalloc char[MaxLength];
        var text = chars[..reader.CopyString(chars)];
        if (_lookup.TryGetValue(text, out var existing)) return existing;
        var created = text.ToString();
        if (_strings.Count < MaxEntries) _strings.Add(created);
        return created;
    }

    /// <summary>Like <see cref="JsonRead.String"/>, pooled; empty strings become null.</summary>
    public string? GetOrNull(ref Utf8JsonReader reader, string field)
    {
        if (reader.TokenType == JsonTokenType.Null) return null;
        if (reader.TokenType != JsonTokenType.String) throw JsonRead.Unexpected(ref reader, field, "a string");
        return reader.ValueSpan.IsEmpty ? null : Get(ref reader);
    }
}
