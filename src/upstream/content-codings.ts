/**
 * The content codings of upstream answers: the ones requests offer, and how a body in each coding axios decodes is
 * decoded (the same streams and flush modes as axios's http adapter, so that both read a body alike).
 */
import { Transform } from 'node:stream';
import * as zlib from 'node:zlib';

/** What requests offer (Accept-Encoding); axios's own default would also offer `compress`. */
export const ACCEPT_ENCODING = 'gzip, deflate, br';

// axios's flush modes, which also read a body whose compressed stream ends early.
const ZLIB = { flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH };
const BROTLI = { flush: zlib.constants.BROTLI_OPERATION_FLUSH, finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH };

/** Puts a zlib header before a raw (headerless) deflate body, as axios does, so that `createUnzip` reads both. */
function zlibHeader(): Transform {
  let first = true;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (first && chunk.length > 0 && chunk[0] !== 0x78) this.push(Buffer.from([0x78, 0x9c]));
      first &&= chunk.length === 0;
      done(null, chunk);
    },
  });
}
const unzip = () => [zlib.createUnzip(ZLIB)];
/** The decoding streams of each Content-Encoding axios decodes; any other is read as it came. */
const DECODERS: Record<string, () => NodeJS.ReadWriteStream[]> = {
  gzip: unzip,
  'x-gzip': unzip,
  compress: unzip,
  'x-compress': unzip,
  deflate: () => [zlibHeader(), zlib.createUnzip(ZLIB)],
  br: () => [zlib.createBrotliDecompress(BROTLI)],
};

/** The streams that decode a body in `coding` (a Content-Encoding value), or null to read it as it came. */
export function decodersFor(coding: string | undefined): NodeJS.ReadWriteStream[] | null {
  const name = coding?.toLowerCase();
  return name !== undefined && Object.hasOwn(DECODERS, name) ? DECODERS[name]() : null;
}
