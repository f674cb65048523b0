// Draws one screen line from styled segments. Never wraps: builders already
// fit their rows to the width, and truncate-end is the last guard.
import React from 'react';
import { Text } from 'ink';
import { clipRow, type Row } from './rows.js';

export interface LineProps {
  row: Row;
  width: number;
}

export function Line({ row, width }: LineProps): React.JSX.Element {
  const segs = clipRow(row, width).filter((s) => s.text.length > 0);
  if (segs.length === 0) return <Text> </Text>;
  return (
    <Text wrap="truncate-end">
      {segs.map((s, i) => (
        <Text
          key={i}
          color={s.color}
          backgroundColor={s.bg}
          bold={s.bold}
          dimColor={s.dim}
          inverse={s.inverse}
          underline={s.underline}
        >
          {s.text}
        </Text>
      ))}
    </Text>
  );
}
