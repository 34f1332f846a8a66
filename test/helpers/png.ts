import { PNG } from 'pngjs';

/**
 * A real PNG of the given size: a white canvas with a dark diagonal and, when `noisy`, random
 * pixels that defeat compression (for byte-limit tests). Deterministic for a given seed.
 */
export function makePng(
  width: number,
  height: number,
  options: { noisy?: boolean; alpha?: boolean; seed?: number } = {},
): Uint8Array {
  const png = new PNG({ width, height });
  let state = options.seed ?? 1;
  const random = () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const index = (y * width + x) * 4;
      const onLine = Math.abs(x / width - y / height) < 0.01;
      const value = options.noisy ? Math.floor(random() * 256) : onLine ? 20 : 255;
      png.data[index] = value;
      png.data[index + 1] = options.noisy ? Math.floor(random() * 256) : value;
      png.data[index + 2] = options.noisy ? Math.floor(random() * 256) : value;
      png.data[index + 3] = options.alpha ? (x < width / 2 ? 0 : 255) : 255;
    }
  }
  return new Uint8Array(PNG.sync.write(png));
}

/** The same image as base64, for request bodies. */
export function pngBase64(width = 4, height = 3): string {
  return Buffer.from(makePng(width, height)).toString('base64');
}

/**
 * Real pictures in the formats a pixel or external generator may hand in, each 96x64 (a white
 * canvas, a black diagonal, a blue square): written once with Pillow and kept here as base64, so
 * tests need no encoder. Decodable by anything that reads the format.
 */
export const SAMPLE_IMAGES = {
  webpLossless: fromBase64([
    'UklGRqwAAABXRUJQVlA4TJ8AAAAvX8APABcw//M///MfSAO3bSQ5UmPNC2XzORnNJnGvrMFbgwnzRU+f8iP6z8ht20js7ONTkn4i',
    'Tr6qrLgKJuogvzc1Dd/0vvSftSrp108uuTuTpZkkTSVFE8E4XjSO15hjd0vQVolgGdaqDOusCCbqECI0UYWLSgsRTJCNJZurQ8ay',
    '4KKbYf+0XzJd90/bJdOxf7qdPn2OAQmE6h3nWAEA',
  ]),
  webpLossy: fromBase64([
    'UklGRtgCAABXRUJQVlA4IMwCAADQEQCdASpgAEAAPrVOpE0nI6OiJrM7yOAWiWMA1KdY3QcYAf/HtOh8A+x3oBM4/3fON/2L8hst',
    'Z+df63SLPJH+J6lt/VfzbzKfkH92/7H9y+AD+Pfzj/kdaD0Pv1SMC1lz4oipb1nK4EI0969Cx/bTZE/fUJXSwR03n/3syrUp+1QG',
    'qzR2NzZMntAe22B38JYrUQwoB7RAAP38VoSUVMnxev4P3BjQMdCeE7D/rDP1/33frWn5pTl7E2eder2aOs0wGRASnaIsH7H+KAvQ',
    'g6ji1Cg/O+HPMuMr2X7wzAAj8UY0/mjWG6YM2jAtaO7cD9t15VIaH2ghqBnxwDg+D4ESSvILdNp8ZEO0RD9EZTLTMVM2cq5MFlgS',
    'yr+v7w7q4DsIDl4kUN9j7maz4HTLV+2hah3Rv/Ley9egacJrCoAKteuNnt5QyUR33qEIkwqP57EocLciExvXkMBTn28HfYbGO1sN',
    '4sA9dfaOxF6POhIcMSBb7CtEe5/k1Mrr+eg3Dw9QRj8fhjrV82q+zz9rvPPTcj0XBMS8C4lnXYRVUYlSgJEEPlj3qzk+jUceQ6+n',
    'DBGE/cIMvZS+sODL2ZBI/d9uB7Wx3D57MBQn6ssa1jM2WjpTIv/mb0SPUy0TnRJvQqGBY0fWg3kwvFzT++JBG638pCxi8kD1BWM8',
    'AfSQueax7cD2tjtl+j1i1ZkRI/aUQDUERa+TDKY+sy0KyFyaI4ITzokpSh14jwhx2g9yAFLizEwuIhsjiB9PyAs22t780NMZtqVU',
    'TPpsgDKzsgHwhu38oLuwe2JW9J2NG1IOfYwevGwACfoIx+Pwx1q+bVfZ5+13nnpuR7KxAO/IyBiaGHwZmdnsebBD5Y96s5Po1HIw',
    'kL3ELAAnnjXsK5yWfUqzed8ELXWlyoqBlfz0G4eKfj563dIlyLkTEUWhIzYYFVMABZwAXEs7DIAAAAAAAA==',
  ]),
  jpeg: fromBase64([
    '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAA0JCgsKCA0LCgsODg0PEyAVExISEyccHhcgLikxMC4pLSwzOko+MzZGNywtQFdBRkxO',
    'UlNSMj5aYVpQYEpRUk//2wBDAQ4ODhMREyYVFSZPNS01T09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09P',
    'T09PT09PT0//wAARCABAAGADASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUF',
    'BAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVW',
    'V1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi',
    '4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAEC',
    'AxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVm',
    'Z2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq',
    '8vP09fb3+Pn6/9oADAMBAAIRAxEAPwD06iiseOO8vdQ1EDVLq3jgnWJI4kiwB5UbfxITnLHvVwhzX1tYRsUVnf2bd/8AQd1D/vi3',
    '/wDjVVr6G9sYoZ11i8l/0mBCkiQ7WVpVUg4jB6Mehq40lJ2Ul+P+QXNqiiisRhRRRQAUUVxPiHx9FBP/AGd4ag/tTUWwVMSmSIDB',
    'JxtOWIA7cDPXgigDqtV1Wx0eyN5qVysEAYLuIJJJ6AAck/TsCe1c/wCFfF134k1K48nR5Y9Mj+RbkuMh+T8w46jHC52nrkHIy9O8',
    'CXuq366r41vPtcxTaLVDgKMDALLgDBLcLxnnJyc99FHHDEkUKLHGihURRgKB0AHYUAOrO0v/AI/9Y/6/F/8AREVaNYsF7HY6lqi3',
    'EF5+9uVdGjtJZFZfJjGQVUjqpH4VtSi5KSXb9UJm1Wdr3/HhF/1+Wv8A6Pjo/tu0/wCeOof+C64/+IqpqWoRXsENvbwXxkN1bt81',
    'jMgAWZGJJZQAAATzVUqVRVItxe66A2rG5RRTZZI4YnlmdY40Us7scBQOpJ7CucY6szXtf03w/aifUp9m/IjjUbnkIGcAflycAZGS',
    'M1yut+Orm8vW0nwbate3YYq9wE3Io4G5ecYDH7zfLx3BzUuhfD2BJft/ie4bVNQLZIaRmjGMbc55c4HfjBxjjNAGXHJ4o+IDFonb',
    'R9CdSpKncZCAQR2ZwSSD0XA7kc9p4e8M6V4dg2WEGZTndcSgGVgSOC2BxwOBgcevNbFFABRRRQAUUUUAFFQX17badZS3l7MsNvCu',
    '53boB/U9gOpNcFqPi/VfEt02k+DLaURt+7mvnQr5eScMCPuDAPJ+Y54AIGQDpPEni/SfD0UizzrNeqvyWsbZcnjAb+4OQcntnGel',
    'cnFpPiHx/Kl5rUradou4S20CgEuDxx3ztB+dv72VGDXQeGPA9lpDi/1Fv7Q1STDyTS/OqPncSmRnOcfMeeM8ZIrrKAKGk6NpuiwG',
    'HS7OK3VvvFRlm5JG5jycZOMnir9FFABRRRQAUUUUAFcr4i8c6do9wtlaRtqWoO20QW7AhW3bdrEZw3XgAnI5xkVL4wsvEuoRQW3h',
    '+8gtoZG/fSbmjkTGSCHGflPAwBnOOoJw/wAMeDdK8OIHiT7ReHBNzKoLKcYOz+6Dk+/PJPFAHNWPhXW/Fd7FqfjKZobeNsw2SgKS',
    'h+bHB+QdAc5cgYOMA16BY2Vtp1lFZ2UKw28K7URegH9T3J6k1PRQAUUUUAFFFFABRRRQAUUUUAf/2Q==',
  ]),
} as const;

function fromBase64(parts: string[]): Uint8Array {
  return new Uint8Array(Buffer.from(parts.join(''), 'base64'));
}
