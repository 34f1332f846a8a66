/**
 * The digits the vision canary writes, as 5 x 7 bitmaps ('#' = ink), drawn big and blocky so any
 * model that sees the picture reads them, and so a program can read them back by matching cells
 * (the scripted endpoint's stand-in for sight does; see scripted/vision.ts).
 */
export const DIGIT_GLYPHS: Readonly<Record<number, readonly string[]>> = {
  0: ['.###.', '#...#', '#...#', '#...#', '#...#', '#...#', '.###.'],
  1: ['..#..', '.##..', '..#..', '..#..', '..#..', '..#..', '.###.'],
  2: ['.###.', '#...#', '....#', '...#.', '..#..', '.#...', '#####'],
  3: ['####.', '....#', '....#', '.###.', '....#', '....#', '####.'],
  4: ['...#.', '..##.', '.#.#.', '#..#.', '#####', '...#.', '...#.'],
  5: ['#####', '#....', '####.', '....#', '....#', '#...#', '.###.'],
  6: ['..##.', '.#...', '#....', '####.', '#...#', '#...#', '.###.'],
  7: ['#####', '....#', '...#.', '..#..', '.#...', '.#...', '.#...'],
  8: ['.###.', '#...#', '#...#', '.###.', '#...#', '#...#', '.###.'],
  9: ['.###.', '#...#', '#...#', '.####', '....#', '...#.', '.##..'],
};

export const GLYPH_COLUMNS = 5;
export const GLYPH_ROWS = 7;
