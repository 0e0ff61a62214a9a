import { expect } from 'chai';
import { daysFromCivil, daysInMonth, isLeapYear, MS_PER_DAY } from '../src/calendar.js';

/** Epoch milliseconds of a UTC midnight by the JavaScript Date, for any year (Date.UTC alone maps 0–99 to 1900–1999). */
function dateMidnight(year: number, month: number, day: number): number {
  return new Date(0).setUTCFullYear(year, month - 1, day);
}

describe('calendar', () => {
  it('gives the days of every month of the years 0–9999 as the JavaScript Date counts them', () => {
    for (let year = 0; year <= 9999; year++) {
      for (let month = 1; month <= 12; month++) {
        // Day 0 of the next month is the last day of this one.
        const expected = new Date(dateMidnight(year, month + 1, 0)).getUTCDate();
        if (daysInMonth(year, month) !== expected)
          expect.fail(`${year}-${month}: ${daysInMonth(year, month)} days, Date says ${expected}`);
      }
    }
  });

  it('has leap years every fourth year, not in centuries but every fourth century', () => {
    expect([1900, 2000, 2020, 2021, 2100, 2400, 0].map(isLeapYear)).to.deep.equal([
      false,
      true,
      true,
      false,
      false,
      true,
      true,
    ]);
  });

  it('counts days from 1970-01-01 as the JavaScript Date does, on the first of every month of the years 0–9999', () => {
    for (let year = 0; year <= 9999; year++) {
      for (let month = 1; month <= 12; month++) {
        const ours = daysFromCivil(year, month, 1) * MS_PER_DAY;
        if (ours !== dateMidnight(year, month, 1))
          expect.fail(`${year}-${month}-01: ${ours}, Date says ${dateMidnight(year, month, 1)}`);
      }
    }
  });

  it('counts every day of the years around the epoch, the leap-year rules and the range ends', () => {
    for (const year of [0, 1, 4, 99, 100, 1600, 1899, 1900, 1969, 1970, 1971, 1999, 2000, 2024, 2100, 2400, 9999]) {
      for (let month = 1; month <= 12; month++) {
        for (let day = 1; day <= daysInMonth(year, month); day++) {
          const ours = daysFromCivil(year, month, day) * MS_PER_DAY;
          if (ours !== dateMidnight(year, month, day))
            expect.fail(`${year}-${month}-${day}: ${ours}, Date says ${dateMidnight(year, month, day)}`);
        }
      }
    }
  });
});
